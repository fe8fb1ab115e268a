"""The held success's writer thread and ``flush``, with a write that the test holds open."""

from __future__ import annotations

import threading

from mediaq.transitions import Completion
from tasks.completion_hold import CompletionHold


def test_flush_returns_only_after_the_writer_threads_write_in_progress() -> None:
    # A process closes its connections right after flush(): a write still in progress on
    # the writer thread would have its connection disposed under it (and left open).
    writing, release = threading.Event(), threading.Event()
    written: list[Completion] = []

    def write(done: Completion) -> None:
        writing.set()
        release.wait(30)
        written.append(done)

    hold = CompletionHold(0.0, write)
    done = Completion(1, 1, None)
    hold.hold(done)
    assert writing.wait(30), "the writer thread never wrote"
    flushed = threading.Event()
    threading.Thread(target=lambda: (hold.flush(), flushed.set()), daemon=True).start()
    assert not flushed.wait(0.3)  # the write is still in progress
    release.set()
    assert flushed.wait(30)
    assert written == [done]  # written once, by the thread
