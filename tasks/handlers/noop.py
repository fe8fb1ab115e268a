"""``noop``: does nothing, holds for ``seconds``, or fails with ``fail``.

For checking a fleet, for tests and for benchmarks. ``fail: "permanent"`` (or ``true``)
fails without retry; ``fail: "transient"`` raises an ordinary error that is retried.
"""

from __future__ import annotations

from typing import Any

from mediaq.errors import InvalidParams, PermanentError
from tasks.context import JobContext
from tasks.registry import handler

MAX_SECONDS = 7 * 24 * 3600


@handler("noop")
def run_noop(ctx: JobContext) -> dict[str, Any]:
    seconds = ctx.params.get("seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise InvalidParams("seconds must be a number")
    if not 0 <= seconds <= MAX_SECONDS:
        raise InvalidParams(f"seconds must be between 0 and {MAX_SECONDS}")
    fail = ctx.params.get("fail")
    if fail in (True, "permanent"):
        raise PermanentError("noop asked to fail permanently")
    if fail == "transient":
        raise RuntimeError("noop asked to fail (transient)")
    if seconds:
        steps = max(1, min(100, int(seconds * 2)))
        for step in range(steps):
            ctx.sleep(seconds / steps)
            ctx.progress(100 * (step + 1) / steps)
    return {"slept": seconds}
