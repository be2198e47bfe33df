"""How ``get`` and ``streams`` regroup line buffers into chunks of ``flush_size`` bytes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from hypothesis import given
from hypothesis import strategies as st

from aion.core.events import LINE_END
from aion.server.kronos.api import _chunks

lines = st.lists(st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\r", b"")))
blocks = st.lists(lines.map(lambda ls: b"".join(line + LINE_END for line in ls)), max_size=8)


def _regroup(buffers: list[bytes], flush_size: int) -> list[bytes]:
    async def source() -> AsyncIterator[bytes]:
        for buffer in buffers:
            yield buffer

    async def collect() -> list[bytes]:
        return [chunk async for chunk in _chunks(source(), flush_size)]

    return asyncio.run(collect())


@given(blocks, st.integers(min_value=1, max_value=300))
def test_chunks_keep_every_byte_and_cut_at_line_ends(buffers: list[bytes], flush: int) -> None:
    chunks = _regroup(buffers, flush)
    assert b"".join(chunks) == b"".join(buffers)
    assert all(chunk.endswith(LINE_END) for chunk in chunks)
    assert all(len(chunk) >= flush for chunk in chunks[:-1])
    assert all(chunk for chunk in chunks)


def test_a_big_buffer_is_cut_near_flush_size() -> None:
    buffer = b"".join(b'{"n":%d}' % i + LINE_END for i in range(1_000))
    chunks = _regroup([buffer], 512)
    assert len(chunks) > 10
    assert all(512 <= len(chunk) < 512 + 16 for chunk in chunks[:-1])
