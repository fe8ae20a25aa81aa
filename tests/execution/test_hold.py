"""A hold (a task whose command may still run on a worker) keeps its configuration until it ends, cancelled or not."""

from __future__ import annotations

import asyncio

from orchrecon.execution.runner import _unless_interrupted


def test_a_hold_outlasts_any_number_of_cancellations_and_then_the_cancellation_stands() -> None:
    async def scenario() -> list[str]:
        seen: list[str] = []
        free = asyncio.Event()

        async def hold() -> None:
            await free.wait()
            seen.append("hold ended")

        async def task() -> None:
            try:
                await _unless_interrupted(hold())
            finally:
                seen.append("configuration released")

        running = asyncio.ensure_future(task())
        await asyncio.sleep(0)
        for _ in range(3):
            running.cancel()
            await asyncio.sleep(0)
        assert not running.done()
        assert seen == []
        free.set()
        try:
            await running
        except asyncio.CancelledError:
            seen.append("cancelled")
        return seen

    assert asyncio.run(scenario()) == ["hold ended", "configuration released", "cancelled"]
