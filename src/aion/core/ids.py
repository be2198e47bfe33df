"""Time-UUIDs: version-1 UUIDs whose 60-bit time field is kronos time plus the Gregorian offset.

The total order of ids is ``(time, the 16 raw bytes)``. Since two ids with the same time share
their first eight bytes, that order equals the order of the 16-byte *sort key* built here:
the 60-bit time big-endian in eight bytes, then the clock-sequence and node bytes. Stores keep
the sort key, so a byte comparison (SQLite BLOB, PostgreSQL bytea) is the id order.
"""

from __future__ import annotations

import binascii
import os
import uuid
from enum import StrEnum

from aion.errors import InvalidEventTime

__all__ = [
    "MAX_KRONOS_TIME",
    "MIN_KRONOS_TIME",
    "UUID_TIME_OFFSET",
    "IdMinter",
    "UUIDType",
    "clamp_time",
    "id_from_sort_key",
    "key_predecessor",
    "key_range",
    "key_successor",
    "kronos_time_from_sort_key",
    "kronos_time_from_uuid",
    "sort_key",
    "sort_key_for_time",
    "uuid_from_kronos_time",
]

UUID_TIME_OFFSET = 0x01B21DD213814000
MIN_KRONOS_TIME = -UUID_TIME_OFFSET
MAX_KRONOS_TIME = (1 << 60) - 1 - UUID_TIME_OFFSET

_LOWEST_TAIL = bytes([0x80]) + bytes(7)
_HIGHEST_TAIL = bytes([0xBF]) + b"\xff" * 7


class UUIDType(StrEnum):
    """Which clock-sequence and node bits an id for a given time gets."""

    RANDOM = "random"
    LOWEST = "lowest"
    HIGHEST = "highest"


def _check_time(t: int) -> int:
    if isinstance(t, bool) or not isinstance(t, int):
        raise InvalidEventTime("@time must be an integer of 100 ns ticks", field="@time")
    if not MIN_KRONOS_TIME <= t <= MAX_KRONOS_TIME:
        raise InvalidEventTime(
            f"@time {t} is outside the range a time-UUID can hold "
            f"[{MIN_KRONOS_TIME}, {MAX_KRONOS_TIME}]",
            field="@time",
        )
    return t + UUID_TIME_OFFSET


def _tail(kind: UUIDType) -> bytes:
    if kind is UUIDType.LOWEST:
        return _LOWEST_TAIL
    if kind is UUIDType.HIGHEST:
        return _HIGHEST_TAIL
    raw = bytearray(os.urandom(8))
    raw[0] = (raw[0] & 0x3F) | 0x80  # RFC 4122 variant bits
    return bytes(raw)


def _uuid_bytes(uuid_time: int, tail: bytes) -> bytes:
    time_low = uuid_time & 0xFFFFFFFF
    time_mid = (uuid_time >> 32) & 0xFFFF
    time_hi_version = ((uuid_time >> 48) & 0x0FFF) | 0x1000
    return (
        time_low.to_bytes(4, "big")
        + time_mid.to_bytes(2, "big")
        + time_hi_version.to_bytes(2, "big")
        + tail
    )


class IdMinter:
    """Mints random time-UUIDs in bulk, as ``(sort key, canonical string)`` pairs.

    One ``os.urandom`` call serves many ids, and the time half of ids that share a time
    (a batch stamped with one "now") is formatted once: the write path mints an id per event.
    """

    __slots__ = ("_heads", "_pool", "_pos")
    _DASH = b"-"

    def __init__(self) -> None:
        self._pool = b""
        self._pos = 0
        self._heads: dict[int, tuple[bytes, bytes]] = {}

    def mint(self, t: int) -> tuple[bytes, str]:
        """A fresh random id at kronos time ``t``: its sort key and its string form."""
        key, text = self.mint_bytes(t)
        return key, text.decode()

    def mint_bytes(self, t: int) -> tuple[bytes, bytes]:
        """Like ``mint``, with the string form as ASCII bytes (to splice into JSON)."""
        if self._pos + 8 > len(self._pool):
            # Start small (most batches are small) and double up to 8 KiB per refill.
            self._pool = os.urandom(min(8192, max(64, 2 * len(self._pool))))
            self._pos = 0
        raw = self._pool[self._pos : self._pos + 8]
        self._pos += 8
        tail = bytes(((raw[0] & 0x3F) | 0x80,)) + raw[1:]  # RFC 4122 variant bits
        head = self._heads.get(t)
        if head is None:
            uuid_time = _check_time(t)
            h = _uuid_bytes(uuid_time, b"").hex()
            if len(self._heads) >= 4096:
                self._heads.clear()
            text = f"{h[:8]}-{h[8:12]}-{h[12:]}-".encode()
            head = self._heads[t] = (uuid_time.to_bytes(8, "big"), text)
        hex_tail = binascii.hexlify(tail)
        return head[0] + tail, head[1] + hex_tail[:4] + self._DASH + hex_tail[4:]


def uuid_from_kronos_time(t: int, kind: UUIDType = UUIDType.RANDOM) -> uuid.UUID:
    """The id for an event at kronos time ``t``: random, or the lowest or highest for ``t``."""
    return uuid.UUID(bytes=_uuid_bytes(_check_time(t), _tail(kind)))


def kronos_time_from_uuid(u: uuid.UUID) -> int:
    """The kronos time carried by a time-UUID."""
    return u.time - UUID_TIME_OFFSET


def sort_key(u: uuid.UUID) -> bytes:
    """The 16-byte key whose byte order is the id order ``(time, raw bytes)``."""
    return u.time.to_bytes(8, "big") + u.bytes[8:]


def sort_key_for_time(t: int, kind: UUIDType) -> bytes:
    """The sort key of the lowest or highest id at kronos time ``t``."""
    return _check_time(t).to_bytes(8, "big") + _tail(kind)


def kronos_time_from_sort_key(key: bytes) -> int:
    """The kronos time carried by a sort key."""
    return int.from_bytes(key[:8], "big") - UUID_TIME_OFFSET


def id_from_sort_key(key: bytes) -> uuid.UUID:
    """The time-UUID a sort key was built from."""
    return uuid.UUID(bytes=_uuid_bytes(int.from_bytes(key[:8], "big"), key[8:]))


def clamp_time(t: int) -> int:
    """``t`` moved into the range of times a time-UUID can hold."""
    return max(MIN_KRONOS_TIME, min(MAX_KRONOS_TIME, t))


def key_successor(key: bytes) -> bytes:
    """The smallest sort key greater than ``key`` (so "strictly after" becomes inclusive)."""
    return (int.from_bytes(key, "big") + 1).to_bytes(16, "big")


def key_predecessor(key: bytes) -> bytes:
    """The greatest sort key smaller than ``key``."""
    return (int.from_bytes(key, "big") - 1).to_bytes(16, "big")


def key_range(
    start_time: int, end_time: int, start_key: bytes | None = None
) -> tuple[bytes, bytes] | None:
    """The inclusive sort-key range ``[low, high]`` of a Kronos query, or None when empty.

    Both times are inclusive; ``start_key``, when given, overrides ``start_time`` and is
    exclusive (Kronos resumes strictly after the last id it saw).
    """
    if end_time < MIN_KRONOS_TIME:
        return None
    high = sort_key_for_time(clamp_time(end_time), UUIDType.HIGHEST)
    if start_key is not None:
        low = key_successor(start_key)
    else:
        if start_time > MAX_KRONOS_TIME:
            return None
        low = sort_key_for_time(clamp_time(start_time), UUIDType.LOWEST)
    if low > high:
        return None
    return low, high
