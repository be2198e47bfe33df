"""What the sync and async shippers share: encoding, requests, verdicts and settling outcomes.

Nothing here starts a thread or opens a socket; ``Shipper`` and ``AsyncShipper`` add the
driver (a thread or an asyncio task) and the HTTP transport around it.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from aion.client.http import auth_headers
from aion.client.shipper.buffer import Batch, ResultOutcome, ShipperState
from aion.client.shipper.config import BATCH_ID_HEADER, Compression, ShipperConfig
from aion.client.shipper.counters import CounterLog, Counters
from aion.client.shipper.retry import Verdict, classify_status, parse_retry_after
from aion.client.shipper.spool import Spool
from aion.core.jsonbody import MAX_JSON_DEPTH, check_json_depth
from aion.errors import ValidationError

__all__ = [
    "AttemptResult",
    "Classifier",
    "RejectHandler",
    "RouteTarget",
    "ShipperBase",
    "SpillHandler",
    "TargetResolver",
    "default_classifier",
]

logger = logging.getLogger("aion.client.shipper")


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """Where a route's batches go, and the extra headers they carry."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """The outcome of one HTTP attempt: ``status`` is None on a network error or timeout."""

    status: int | None
    headers: Mapping[str, str]
    body: bytes
    error: str | None = None


#: Resolves a route to its target; called for every attempt, so headers may carry a timestamp.
TargetResolver = Callable[[str], RouteTarget]
#: Turns an attempt's result into a verdict (the compat clients refine the default).
Classifier = Callable[[AttemptResult], Verdict]
#: Told about a batch the server refused for good (``result.status`` says why).
RejectHandler = Callable[[Batch, AttemptResult], None]
#: Told about a batch written to the spool.
SpillHandler = Callable[[Batch], None]

_encode = msgspec.json.Encoder().encode


def default_classifier(result: AttemptResult) -> Verdict:
    """The status rule of ``retry.classify_status``."""
    return classify_status(result.status)


class ShipperBase:
    """Configuration, state and the I/O-free steps of both shippers."""

    def __init__(
        self,
        config: ShipperConfig,
        *,
        target: TargetResolver | None = None,
        classifier: Classifier | None = None,
        on_reject: RejectHandler | None = None,
        on_spill: SpillHandler | None = None,
    ) -> None:
        self.config = config
        self._state = ShipperState(config)
        self._state.start_ticks(time.monotonic())
        self._target = target or (lambda route: RouteTarget(config.url))
        self._auth = auth_headers(config.api_key)
        self._classifier = classifier or default_classifier
        self._on_reject = on_reject
        self._on_spill = on_spill
        spool_dir = config.spool_dir
        self._spool = (
            Spool(Path(spool_dir), config.spool_name, config.spool_max_bytes) if spool_dir else None
        )
        self._spool_dirty = False
        self._counter_log = CounterLog(logger, config.name)

    # -- encoding and requests ---------------------------------------------------------------

    @staticmethod
    def encode_event(event: Mapping[str, Any]) -> bytes:
        """JSON-encode one event, once; raises ``ValidationError`` when it cannot be, or when
        it nests deeper than the server accepts (which would refuse its whole batch)."""
        try:
            payload = _encode(event)
        except (TypeError, msgspec.EncodeError, OverflowError) as exc:
            raise ValidationError(f"the event is not JSON-serialisable: {exc}", "event") from exc
        except RecursionError as exc:
            raise ValidationError(
                f"event nests arrays and objects deeper than {MAX_JSON_DEPTH} levels", "event"
            ) from exc
        check_json_depth(payload, field="event")
        return payload

    def build_request(self, batch: Batch) -> tuple[str, dict[str, str], bytes]:
        """The URL, headers and body of one attempt to send ``batch``."""
        target = self._target(batch.route)
        body = b"[" + b",".join(batch.payloads) + b"]"
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        headers.update(self._auth)
        headers.update(target.headers)
        headers[BATCH_ID_HEADER] = batch.batch_id
        cfg = self.config
        if cfg.compression is Compression.GZIP and len(body) >= cfg.gzip_min_bytes:
            # mtime=0 keeps retries of the same batch byte-identical.
            body = gzip.compress(body, compresslevel=6, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return target.url, headers, body

    def judge(self, result: AttemptResult) -> tuple[Verdict, float | None]:
        """The verdict on an attempt and the server's ``Retry-After`` in seconds, if any."""
        try:
            verdict = self._classifier(result)
        except Exception:  # a faulty classifier must not kill the sender
            logger.exception("shipper %s: the response classifier failed", self.config.name)
            verdict = classify_status(result.status)
        retry_after = None
        if verdict is Verdict.RETRY:
            header = result.headers.get("retry-after") or result.headers.get("Retry-After")
            retry_after = parse_retry_after(header, time.time())
        return verdict, retry_after

    # -- settling ----------------------------------------------------------------------------

    def settle(self, outcome: ResultOutcome, batch: Batch, result: AttemptResult) -> None:
        """Report a rejected batch or spool a given-up one. Called without the driver's lock;
        counters are updated under it by ``_count_spilled``/``_count_lost``."""
        name = self.config.name
        if outcome in (ResultOutcome.SENT, ResultOutcome.REJECTED):
            self._release(batch)
        if outcome is ResultOutcome.REJECTED:
            logger.error(
                "shipper %s: the server refused batch %s (%d events) with status %s: %s",
                name,
                batch.batch_id,
                len(batch),
                result.status,
                result.body[:200].decode("utf-8", "replace"),
            )
            if self._on_reject is not None:
                try:
                    self._on_reject(batch, result)
                except Exception:
                    logger.exception("shipper %s: on_reject failed", name)
        elif outcome is ResultOutcome.GIVE_UP:
            logger.warning(
                "shipper %s: giving up on batch %s (%d events) after retries: %s",
                name,
                batch.batch_id,
                len(batch),
                result.error or f"status {result.status}",
            )
            self.spill([batch])

    def spill(self, batches: list[Batch]) -> None:
        """Write batches to the spool (or count them lost when there is no spool)."""
        batches = [b for b in batches if len(b)]
        if not batches:
            return
        name = self.config.name
        refused: list[Batch] = batches
        reason = "no spool to keep it"
        if self._spool is not None:
            try:
                refused = self._spool.append(batches)
                self._spool_dirty = True
                reason = f"the spool is full (spool_max_bytes={self.config.spool_max_bytes})"
            except OSError as exc:
                logger.error("shipper %s: cannot write the spool: %s", name, exc)
                reason = f"the spool cannot be written: {exc}"
        not_kept = {id(b) for b in refused}
        for batch in batches:
            if id(batch) not in not_kept:
                self._release(batch)  # a replayed batch is in the spool again
                self._count_spilled(batch)
                if self._on_spill is not None:
                    try:
                        self._on_spill(batch)
                    except Exception:
                        logger.exception("shipper %s: on_spill failed", name)
            else:
                logger.error(
                    "shipper %s: lost batch %s (%d events): %s",
                    name,
                    batch.batch_id,
                    len(batch),
                    reason,
                )
                self._count_lost(batch)

    def _release(self, batch: Batch) -> None:
        if batch.replayed and self._spool is not None:
            self._spool.release(batch.batch_id)

    def claim_spool(self) -> list[Batch]:
        """Spooled batches to replay (empty when there is no spool)."""
        if self._spool is None:
            return []
        try:
            batches = self._spool.claim()
        except OSError as exc:
            logger.error("shipper %s: cannot read the spool: %s", self.config.name, exc)
            return []
        self._spool_dirty = False
        if batches:
            logger.info(
                "shipper %s: replaying %d spooled events in %d batches",
                self.config.name,
                sum(len(b) for b in batches),
                len(batches),
            )
        return batches

    # Drivers override these two to take their lock around the state change.
    def _count_spilled(self, batch: Batch) -> None:
        self._state.mark_spilled(batch)

    def _count_lost(self, batch: Batch) -> None:
        self._state.mark_lost(batch)

    # -- reading -----------------------------------------------------------------------------

    @property
    def counters(self) -> Counters:
        """A snapshot of the counters (events queued, sent, retried, dropped, spilled...)."""
        return self._state.counters()

    def _log_counters(self) -> None:
        self._counter_log.observe(self.counters)
