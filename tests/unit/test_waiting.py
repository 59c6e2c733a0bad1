import asyncio

from dsrs.waiting import first_of, wait_at_most


async def test_waiting_at_most_ends_when_the_event_is_set() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_soon(event.set)
    # A limit no test run reaches: only the event can end this wait.
    await wait_at_most(event, 3600)
    assert event.is_set()


async def test_waiting_at_most_ends_at_the_limit_when_nothing_happens() -> None:
    event = asyncio.Event()
    await wait_at_most(event, 0.01)
    assert not event.is_set()


async def test_the_first_wait_to_finish_ends_it_and_the_rest_are_cancelled() -> None:
    finished = asyncio.Event()
    never = asyncio.Event()
    cancelled = False

    async def wait_forever() -> None:
        nonlocal cancelled
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled = True
            raise

    asyncio.get_running_loop().call_soon(finished.set)
    await first_of(finished.wait(), wait_forever())
    await asyncio.sleep(0)
    assert cancelled


async def test_first_of_ends_at_its_limit_when_nothing_finishes() -> None:
    never = asyncio.Event()
    await first_of(never.wait(), seconds=0.01)
    assert not never.is_set()
