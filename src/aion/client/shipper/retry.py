"""Retry decisions, with no I/O: which answers are retried, and how long to wait.

The rules (anchors B.3 item 5): network errors, timeouts, 408, 429 and 5xx are retried with
exponential backoff and full jitter; ``Retry-After`` (seconds or an HTTP date) is a floor on the
delay; every other 4xx is final, because sending the same bytes again cannot succeed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum

from aion.client.shipper.config import RetryPolicy

__all__ = [
    "RetryPlan",
    "Verdict",
    "backoff_delay",
    "classify_status",
    "parse_retry_after",
    "plan_retry",
]

_RETRIED_4XX = frozenset({408, 425, 429})


class Verdict(StrEnum):
    """What one attempt's outcome means for its batch."""

    SENT = "sent"
    RETRY = "retry"
    REJECTED = "rejected"


def classify_status(status: int | None) -> Verdict:
    """The verdict for an HTTP status; ``None`` stands for a network error or a timeout."""
    if status is None:
        return Verdict.RETRY
    if 200 <= status < 300:
        return Verdict.SENT
    if status in _RETRIED_4XX or status >= 500:
        return Verdict.RETRY
    # 1xx/3xx here mean a misconfigured URL (redirects are not followed): retrying won't help.
    return Verdict.REJECTED


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, when.timestamp() - now)
    if seconds != seconds or seconds < 0:  # NaN or negative: ignore a broken header
        return None
    return seconds


def backoff_delay(
    policy: RetryPolicy,
    failures: int,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """The wait before the next attempt after ``failures`` failed ones (full jitter).

    ``retry_after`` from the server is a floor, clamped to the policy's ``max_retry_after`` so
    a hostile or broken header cannot park the sender for hours.
    """
    draw: float = (rng or random).random()
    ceiling = min(policy.cap, policy.base * 2.0 ** max(0, failures - 1))
    delay = draw * ceiling
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.max_retry_after))
    return delay


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """Whether to try again, and when (monotonic seconds)."""

    again: bool
    not_before: float


def plan_retry(
    policy: RetryPolicy,
    failures: int,
    first_attempt_at: float,
    now: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> RetryPlan:
    """Decide what follows the ``failures``-th failed attempt of a batch first tried at
    ``first_attempt_at``: give up after ``max_attempts`` or past ``max_elapsed`` seconds."""
    if failures >= policy.max_attempts:
        return RetryPlan(again=False, not_before=now)
    delay = backoff_delay(policy, failures, retry_after, rng)
    if now + delay - first_attempt_at > policy.max_elapsed:
        return RetryPlan(again=False, not_before=now)
    return RetryPlan(again=True, not_before=now + delay)
