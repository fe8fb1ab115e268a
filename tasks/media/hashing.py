"""Content hashes in chunks: SHA-256 over a reused buffer, with a callback per chunk."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

CHUNK_BYTES = 1 << 20  # 1 MiB: large enough that Python's per-chunk cost is noise
HASH_NAME = "sha256"


def hash_file(
    path: str | Path,
    on_chunk: Callable[[int], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> str:
    """The hex SHA-256 of a file, read in chunks; ``on_chunk(bytes_so_far)`` after each.

    The callback is where a caller checks for cancellation and reports progress, so a
    large file never blocks a cancel for longer than one chunk.
    """
    digest = hashlib.new(HASH_NAME)
    buffer = bytearray(chunk_bytes)
    view = memoryview(buffer)
    done = 0
    with open(path, "rb", buffering=0) as fh:
        while True:
            count = fh.readinto(view)
            if not count:
                break
            digest.update(view[:count])
            done += count
            if on_chunk is not None:
                on_chunk(done)
    return digest.hexdigest()
