"""The streams of one credential share their periodic re-reads of it (`SharedRereads`):
one read at a time per key, its answer or error shared while fresh, a new read after."""

from __future__ import annotations

import asyncio

import pytest

from ledgerline.events.live import SharedRereads


async def test_concurrent_rereads_of_one_key_read_once_and_share_the_answer() -> None:
    rereads = SharedRereads[int](fresh_seconds=60)
    reads = 0
    release = asyncio.Event()

    async def read() -> int:
        nonlocal reads
        reads += 1
        await release.wait()
        return reads

    waiting = [asyncio.create_task(rereads.read("token-a", read)) for _ in range(1000)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [1] * 1000
    assert reads == 1
    # Another key reads for itself.
    assert await rereads.read("token-b", read) == 2


async def test_an_answer_older_than_fresh_seconds_is_read_again() -> None:
    rereads = SharedRereads[int](fresh_seconds=0.05)
    reads = 0

    async def read() -> int:
        nonlocal reads
        reads += 1
        return reads

    assert await rereads.read("token", read) == 1
    assert await rereads.read("token", read) == 1
    await asyncio.sleep(0.06)
    assert await rereads.read("token", read) == 2


async def test_a_failed_read_ends_every_sharer_and_one_leaving_cancels_nothing() -> None:
    rereads = SharedRereads[int](fresh_seconds=60)
    release = asyncio.Event()

    async def revoked() -> int:
        await release.wait()
        raise PermissionError("session revoked")

    first = asyncio.create_task(rereads.read("token", revoked))
    second = asyncio.create_task(rereads.read("token", revoked))
    await asyncio.sleep(0)
    first.cancel()  # one socket closes while the read is on its way
    release.set()
    with pytest.raises(PermissionError):
        await second
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_finished_reads_past_their_freshness_are_forgotten() -> None:
    rereads = SharedRereads[int](fresh_seconds=0.05)

    async def read() -> int:
        return 1

    for key in range(100):
        await rereads.read(key, read)
    await asyncio.sleep(0.06)
    await rereads.read("later", read)
    assert list(rereads._reads) == ["later"]
