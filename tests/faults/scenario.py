"""The fleet the fault tests and the soak (``bench/fault_soak.py``) both run: its settings,
how it is made ready for jobs, and how to wait for a batch to end.

The faults themselves and the overlap sampler are in ``tests.faults.faults``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from mediaq.db import transaction
from mediaq.enqueue import JobSpec, enqueue
from mediaq.settings import Settings
from tests.conftest import FAST_TIMING, TEST_SECRET
from tests.faults.audit import TERMINAL, install_audit
from tests.faults.harness import FaultFleet, fault_fleet, wait_for
from tests.media_fixtures import make_video

SETTINGS = Settings(
    jwt_secret=TEST_SECRET,
    enable_media_features=True,
    queue_prefix="mqfaults",
    **FAST_TIMING,
    fake_gpus=(16384,),  # each host has a (fake) GPU: GPU reservations must not leak either
    gpu_slots=2,
)
CLIP = "clip.mp4"


@contextlib.contextmanager
def ready_fleet() -> Iterator[FaultFleet]:
    """The fleet with every host registered, a scanned library of one test clip, and the
    audit of status changes installed; removed afterwards."""
    with fault_fleet(SETTINGS) as f:
        assert f.settings is not None
        make_video(Path(f.settings.library_root) / CLIP, 2)
        wait_for(
            lambda: (
                f.scalar(
                    "SELECT count(*) FROM worker_hosts WHERE last_seen > now() - interval '3 s'"
                )
                == len(f.hosts)
            ),
            120,
            "every host registered",
        )
        with transaction(f.settings.database_url) as session:
            scan = enqueue(session, JobSpec("scan", {}))
        wait_for(lambda: status(f, scan) == "completed", 120, "the library scanned")
        install_audit(f.settings.database_url)
        yield f


def status(f: FaultFleet, job_id: int) -> str:
    return str(f.scalar("SELECT status FROM jobs WHERE id = :i", i=job_id))


def video_id(f: FaultFleet) -> int:
    return int(f.scalar("SELECT min(id) FROM videos"))


def terminal(f: FaultFleet, ids: Sequence[int]) -> bool:
    done = f.scalar(
        "SELECT count(*) FROM jobs WHERE id = ANY(:ids) AND status = ANY(:terminal)",
        ids=list(ids),
        terminal=list(TERMINAL),
    )
    return int(done) == len(ids)


def settle(f: FaultFleet, ids: Sequence[int], timeout: float = 90) -> None:
    """Until every job of ``ids`` is terminal (AssertionError after ``timeout``)."""
    wait_for(lambda: terminal(f, ids), timeout, "every job terminal")
