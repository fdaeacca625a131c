"""Wait on a condition with a deadline: the one way tests synchronise with servers.

No test sleeps for a fixed time to let something happen; it polls the condition it
needs, briefly, and fails naming what it waited for when the deadline passes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def wait_for(
    condition: Callable[[], Awaitable[Any]] | Callable[[], Any],
    *,
    within_s: float = 30.0,
    what: str = "condition",
    every_s: float = 0.05,
) -> Any:
    """Call ``condition`` (sync or async) until it returns something truthy; return it."""
    deadline = time.monotonic() + within_s
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(every_s)
