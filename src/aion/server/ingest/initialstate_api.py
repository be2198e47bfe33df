"""The Initial State events API: ``POST /api/buckets`` and ``POST /api/events``.

A bucket is the stream named by its bucket key, in the router's namespace (by default the
app's default namespace); each event is stored as ``{"key", "value", "@time"}``, ``@time`` being
the ``epoch`` seconds converted exactly to kronos time (or the ``iso8601`` string, or the
server's clock when neither is sent; ``epoch`` wins when both are).

Bucket keys: a key longer than 250 characters or holding ``:``, ``"`` or ``'`` is refused with
400, as the Initial State API documents. Any other key that is not a valid stream name (a space,
a slash, ...) is mapped deterministically to ``<key with each such character replaced by
'_'>-<12 hex digits of its SHA-256>``, so two keys never share a stream; valid keys are used as
they are.

Limits: key at most 250 characters (the client README's figure; the API doc says 100, and
accepting more breaks no client), value at most 2000 characters, body at most 1 MB (413),
``Accept-Version`` at most 256 characters (400), and the JSON nesting limit of
``aion.core.jsonbody``. The buckets the router has seen are remembered, for the 201/204 answer
of ``/api/buckets``, in an LRU of ``MAX_KNOWN_BUCKETS``: one it has forgotten is created again
(201), as after a restart.

Bucket names: ``/api/buckets`` records a bucket's ``bucketName`` as one event
``{"bucketKey", "bucketName", "stream"}`` in the namespace's ``BUCKET_NAMES_STREAM``, the first
time the router sees the bucket and whenever the name changes; the dashboard shows the newest
name of each bucket beside its key.
Errors use Initial State's JSON shape ``{"message": {"error": {"type", "message"}}}``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from aion.core.events import validate_stream_name
from aion.core.ids import MAX_KRONOS_TIME, MIN_KRONOS_TIME
from aion.core.jsonbody import decode_json
from aion.core.time import epoch_time_to_kronos_time, iso_to_kronos_time, kronos_time_now
from aion.errors import AionError, InvalidStreamName, Unauthorized, ValidationError
from aion.server.errors import initialstate_error
from aion.server.ingest.dedupe import BATCH_ID_HEADER, BatchDeduplicator
from aion.server.ingest.openapi import INITIALSTATE_BUCKETS, INITIALSTATE_EVENTS
from aion.server.ingest.sink import EventSink, get_sink, namespace_for, read_body
from aion.server.reserved import BUCKET_NAMES_STREAM

__all__ = [
    "API_VERSION",
    "BUCKET_NAMES_STREAM",
    "MAX_ACCEPT_VERSION_LENGTH",
    "MAX_BODY_BYTES",
    "MAX_BUCKET_KEY_LENGTH",
    "MAX_KEY_LENGTH",
    "MAX_KNOWN_BUCKETS",
    "MAX_VALUE_LENGTH",
    "bucket_stream_name",
    "initialstate_router",
]

API_VERSION = (0, 0, 4)
MAX_BODY_BYTES = 1024 * 1024
MAX_BUCKET_KEY_LENGTH = 250
MAX_BUCKET_NAME_LENGTH = 250
MAX_KEY_LENGTH = 250
MAX_VALUE_LENGTH = 2000
MAX_ACCEPT_VERSION_LENGTH = 256
MAX_KNOWN_BUCKETS = 10_000
"""How many (namespace, bucket) pairs a router remembers having created."""
_FORBIDDEN_IN_BUCKET_KEY = re.compile(r"[:\"']")
_NOT_STREAM_CHARS = re.compile(r"[^\w\-.]")
_COMPARATOR = re.compile(r"^\s*(<=|>=|<|>|=|~|\^)?\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$")


def bucket_stream_name(bucket_key: str) -> str:
    """The stream a bucket key names (see the module docstring for the rule)."""
    if not bucket_key:
        raise ValidationError("the bucket key is empty", "bucketKey")
    if len(bucket_key) > MAX_BUCKET_KEY_LENGTH:
        raise ValidationError(
            f"the bucket key is over {MAX_BUCKET_KEY_LENGTH} characters", "bucketKey"
        )
    if _FORBIDDEN_IN_BUCKET_KEY.search(bucket_key):
        raise ValidationError("a bucket key may not contain ':', '\"' or \"'\"", "bucketKey")
    try:
        return validate_stream_name(bucket_key, "bucketKey")
    except InvalidStreamName:
        digest = hashlib.sha256(bucket_key.encode("utf-8")).hexdigest()[:12]
        return f"{_NOT_STREAM_CHARS.sub('_', bucket_key)}-{digest}"


def _version_accepted(header: str | None) -> bool:
    """Whether an ``Accept-Version`` range (``<=0.0.4``, ``~0``, ``0.0.4``...) admits ours.

    The caller refuses a header over ``MAX_ACCEPT_VERSION_LENGTH`` first, so no number here
    has more digits than ``int`` reads quickly."""
    if header is None or header.strip() in ("", "*", "latest"):
        return True
    for alternative in header.split("||"):
        if all(_clause_admits(c) for c in alternative.split()):
            return True
    return False


def _clause_admits(clause: str) -> bool:
    match = _COMPARATOR.match(clause)
    if match is None:
        return True  # a form we do not parse: be lenient rather than lock clients out
    op, *parts = match.groups()
    given = tuple(int(p) if p is not None else 0 for p in parts)
    ours = API_VERSION
    if op in (None, "=", "~", "^"):
        depth = sum(p is not None for p in parts)
        return ours[:depth] == given[:depth] if op != "=" else ours == given
    return {"<=": ours <= given, ">=": ours >= given, "<": ours < given, ">": ours > given}[op]


def _event_time(event: dict[str, Any], index: int) -> int:
    epoch = event.get("epoch")
    if epoch is not None:
        if isinstance(epoch, bool) or not isinstance(epoch, int | float | str):
            raise ValidationError(f"events[{index}].epoch must be a number of seconds", "epoch")
        try:
            t = epoch_time_to_kronos_time(float(epoch) if isinstance(epoch, str) else epoch)
        except (ValueError, ValidationError) as exc:
            raise ValidationError(f"events[{index}].epoch: {exc}", "epoch") from exc
        return _in_range(t, index, "epoch")
    iso = event.get("iso8601")
    if iso is not None:
        if not isinstance(iso, str):
            raise ValidationError(f"events[{index}].iso8601 must be a string", "iso8601")
        try:
            t = iso_to_kronos_time(iso)
        except ValidationError as exc:
            raise ValidationError(f"events[{index}].iso8601: {exc}", "iso8601") from exc
        return _in_range(t, index, "iso8601")
    return kronos_time_now()


def _in_range(t: int, index: int, field: str) -> int:
    """``t`` when an event id can hold it; else refused naming the field it came from."""
    if not MIN_KRONOS_TIME <= t <= MAX_KRONOS_TIME:
        raise ValidationError(
            f"events[{index}].{field} is out of range: times run from 1582-10-15 to about "
            "the year 5236",
            field,
        )
    return t


def to_stored_events(body: object) -> list[dict[str, Any]]:
    """Validate an events body (an array or one object) and reshape it for storage."""
    items = body if isinstance(body, list) else [body]
    stored: list[dict[str, Any]] = []
    for index, event in enumerate(items):
        if not isinstance(event, dict):
            raise ValidationError(f"events[{index}] must be a JSON object", "event")
        key = event.get("key")
        if not isinstance(key, str) or not key:
            raise ValidationError(f"events[{index}].key must be a non-empty string", "key")
        if len(key) > MAX_KEY_LENGTH:
            raise ValidationError(f"events[{index}].key is over {MAX_KEY_LENGTH} characters", "key")
        value = event.get("value")
        if not isinstance(value, str | bool | int | float):
            raise ValidationError(
                f"events[{index}].value must be a string, boolean or number", "value"
            )
        if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
            raise ValidationError(
                f"events[{index}].value is over {MAX_VALUE_LENGTH} characters", "value"
            )
        stored.append({"key": key, "value": value, "@time": _event_time(event, index)})
    return stored


def _access_key(request: Request) -> str | None:
    return request.headers.get("x-is-accesskey") or request.query_params.get("accessKey")


def _bucket_key(request: Request) -> str | None:
    return request.headers.get("x-is-bucketkey") or request.query_params.get("bucketKey")


SinkDep = Annotated[EventSink, Depends(get_sink)]


class _BucketMemory:
    """The (namespace, stream) pairs of the buckets seen lately, with the bucket name last
    recorded for each (None: none yet), the least recent forgotten past ``capacity``."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[tuple[str, str], str | None] = OrderedDict()

    def name(self, scope: tuple[str, str]) -> str | None:
        """The bucket name recorded for ``scope``, if remembered."""
        return self._seen.get(scope)

    def add(self, scope: tuple[str, str], name: str | None = None) -> bool:
        """Remember ``scope`` (and its name, when given); True when it was not remembered
        already."""
        if scope in self._seen:
            self._seen.move_to_end(scope)
            if name is not None:
                self._seen[scope] = name
            return False
        self._seen[scope] = name
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._seen)


def initialstate_router(
    namespace: str | None = None,
    access_keys: frozenset[str] | None = None,
    dedupe_capacity: int = 100_000,
    bucket_memory: int = MAX_KNOWN_BUCKETS,
) -> APIRouter:
    """The Initial State routes. ``access_keys`` None accepts any non-empty access key;
    ``bucket_memory`` bounds the buckets remembered for ``/api/buckets``'s 201/204."""
    router = APIRouter(tags=["initialstate"])
    dedupe = BatchDeduplicator(dedupe_capacity)
    known_buckets = _BucketMemory(bucket_memory)

    def check_request(request: Request) -> Response | None:
        access_key = _access_key(request)
        if not access_key or (access_keys is not None and access_key not in access_keys):
            return initialstate_error(Unauthorized("a valid X-IS-AccessKey is required"))
        accept_version = request.headers.get("accept-version")
        if accept_version is not None and len(accept_version) > MAX_ACCEPT_VERSION_LENGTH:
            too_long = ValidationError(
                f"Accept-Version is over {MAX_ACCEPT_VERSION_LENGTH} characters", "Accept-Version"
            )
            return initialstate_error(too_long, kind="VERSION")
        if not _version_accepted(accept_version):
            version = ".".join(map(str, API_VERSION))
            refused = ValidationError(f"Accept-Version does not admit {version}")
            return initialstate_error(refused, kind="VERSION")
        return None

    @router.post("/api/buckets", status_code=201, openapi_extra=INITIALSTATE_BUCKETS)
    async def create_bucket(request: Request, sink: SinkDep) -> Response:
        """Create a bucket (201), or confirm that it exists (204)."""
        refused = check_request(request)
        if refused is not None:
            return refused
        try:
            raw = await read_body(request, MAX_BODY_BYTES)
            body = decode_json(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValidationError("the body must be a JSON object", "body")
            bucket_key = body.get("bucketKey") or _bucket_key(request) or str(uuid.uuid4())
            bucket_name = body.get("bucketName") or bucket_key
            if not isinstance(bucket_key, str) or not isinstance(bucket_name, str):
                raise ValidationError("bucketKey and bucketName must be strings", "bucketKey")
            if len(bucket_name) > MAX_BUCKET_NAME_LENGTH:
                raise ValidationError(
                    f"bucketName is over {MAX_BUCKET_NAME_LENGTH} characters", "bucketName"
                )
            stream = bucket_stream_name(bucket_key)
        except ValidationError as exc:  # a body over the limit is a 413 (TOO_LARGE)
            return initialstate_error(exc)
        scope = (namespace_for(request, namespace), stream)
        if known_buckets.name(scope) != bucket_name:
            record = {"bucketKey": bucket_key, "bucketName": bucket_name, "stream": stream}
            try:
                await sink.ingest(scope[0], BUCKET_NAMES_STREAM, [record])
            except AionError as exc:  # a backend down is a 503 (UNAVAILABLE)
                return initialstate_error(exc)
        if not known_buckets.add(scope, bucket_name):
            return Response(status_code=204)
        return JSONResponse(
            {"bucketKey": bucket_key, "bucketName": bucket_name, "stream": stream},
            status_code=201,
        )

    @router.post("/api/events", status_code=204, openapi_extra=INITIALSTATE_EVENTS)
    async def send_events(request: Request, sink: SinkDep) -> Response:
        """Store events in the bucket named by ``X-IS-BucketKey``."""
        refused = check_request(request)
        if refused is not None:
            return refused
        bucket_key = _bucket_key(request)
        if not bucket_key:
            missing = ValidationError("X-IS-BucketKey is required", "X-IS-BucketKey")
            return initialstate_error(missing)
        try:
            stream = bucket_stream_name(bucket_key)
            raw = await read_body(request, MAX_BODY_BYTES)
            events = to_stored_events(decode_json(raw, envelope=1))  # an array of events
        except ValidationError as exc:  # a body over the limit is a 413 (TOO_LARGE)
            return initialstate_error(exc)
        ns = namespace_for(request, namespace)
        batch_id = request.headers.get(BATCH_ID_HEADER)

        async def store() -> None:
            await sink.ingest(ns, stream, events, None, batch_id)

        try:
            await dedupe.run_once(f"{ns}/{stream}", batch_id, store)
        except AionError as exc:  # a backend down is a 503 (UNAVAILABLE), bad events a 400
            return initialstate_error(exc)
        known_buckets.add((ns, stream))
        return Response(status_code=204)

    return router
