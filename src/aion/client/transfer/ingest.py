"""Sending one import batch to ``POST /v1/ingest/{namespace}/{stream}``, with retries.

The endpoint stores a batch all or nothing, and a batch sent again with the same
``X-Aion-Batch-Id`` is acknowledged without being stored twice (while the server process
remembers the id). That is what makes retrying safe here: network errors, timeouts, 408, 429
and 5xx are retried with the shipper's backoff; any other refusal is final and raised.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from aion.client.http import Call, HttpSettings, answer
from aion.client.shipper.config import BATCH_ID_HEADER, RetryPolicy
from aion.client.shipper.retry import Verdict, classify_status, parse_retry_after, plan_retry
from aion.errors import RequestError

__all__ = ["DEFAULT_RETRY", "IngestSender"]

DEFAULT_RETRY = RetryPolicy(max_attempts=8, base=0.2, cap=5.0, max_elapsed=120.0)


def _newly_stored(body: Any) -> bool:
    return not (isinstance(body, dict) and body.get("duplicate") is True)


class IngestSender:
    """Posts JSON-array batches of events to one stream; ``send`` returns whether the server
    stored the batch now (False: it had stored this batch id already)."""

    def __init__(
        self,
        url: str,
        stream: str,
        *,
        namespace: str | None = None,
        timeout: float | None = 60.0,
        api_key: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._settings = HttpSettings(url, namespace, timeout, api_key)
        path = f"/v1/ingest/{quote(stream, safe='')}"
        if namespace is not None:
            path = f"/v1/ingest/{quote(namespace, safe='')}/{quote(stream, safe='')}"
        self._endpoint = self._settings.endpoint(path)
        # The answer of a stored batch: True, unless the server had stored this batch id.
        self._stored: Call[bool] = Call("POST", path, _newly_stored)
        self._retry = retry
        headers = self._settings.headers() | {"Content-Type": "application/json"}
        self._http = httpx.Client(headers=headers, timeout=timeout, transport=transport)

    def send(self, body: bytes, batch_id: str) -> bool:
        """Store one batch (a JSON array), retrying what may succeed on a second attempt."""
        first_attempt = time.monotonic()
        failures = 0
        while True:
            status: int | None = None
            retry_after: float | None = None
            try:
                response = self._http.post(
                    self._endpoint, content=body, headers={BATCH_ID_HEADER: batch_id}
                )
            except httpx.HTTPError as exc:
                problem: Exception = RequestError(f"cannot reach {self._settings.url}: {exc}")
            else:
                status = response.status_code
                if classify_status(status) is not Verdict.RETRY:
                    return answer(self._stored, status, response.content)
                retry_after = parse_retry_after(response.headers.get("Retry-After"), time.time())
                problem = RequestError(f"the server answered HTTP {status}: {response.text[:300]}")
            failures += 1
            now = time.monotonic()
            plan = plan_retry(self._retry, failures, first_attempt, now, retry_after)
            if not plan.again:
                raise RequestError(f"{problem} (gave up after {failures} attempts)")
            time.sleep(max(0.0, plan.not_before - now))

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> IngestSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
