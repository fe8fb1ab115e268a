"""``noop``: does nothing, holds for ``seconds``, or fails with ``fail``.

For checking a fleet, for tests and for benchmarks. ``fail: "permanent"`` (or ``true``)
fails without retry; ``fail: "transient"`` raises an ordinary error that is retried.
"""

from __future__ import annotations

from typing import Any

from mediaq.errors import PermanentError
from mediaq.jobparams import NoopParams
from tasks.context import JobContext
from tasks.media.params import read_params


def run_noop(ctx: JobContext) -> dict[str, Any]:
    p = read_params(ctx.params, NoopParams)
    seconds, fail = p.seconds, p.fail
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
