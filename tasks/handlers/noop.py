"""``noop``: does nothing, holds for ``seconds``, or fails with ``fail``.

For checking a fleet, for tests and for benchmarks. ``fail: "permanent"`` (or ``true``)
fails without retry; ``fail: "transient"`` raises an ordinary error that is retried.
``stubborn: true`` holds in a child process that ignores SIGTERM and then ignores its own
cancellation, as a hung handler would: only the worker's hard stop ends it.
"""

from __future__ import annotations

import time
from contextlib import suppress
from typing import Any

from mediaq.errors import JobCancelled, PermanentError
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
    if p.stubborn:
        with suppress(JobCancelled):
            ctx.run(["sh", "-c", f"trap '' TERM; sleep {seconds}"])
        time.sleep(seconds)  # deaf to the cancel
        return {"slept": seconds}
    if seconds:
        steps = max(1, min(100, int(seconds * 2)))
        for step in range(steps):
            ctx.sleep(seconds / steps)
            ctx.progress(100 * (step + 1) / steps)
    return {"slept": seconds}
