"""What the scheduler reads of a job's params, in SQL: its expected run time and encoder use,
the same for pending jobs (admission) and live ones (the reservation ledger)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from mediaq.db import engine_for
from mediaq.settings import Settings
from scheduler.fleet import load_live, load_pending

GPU = "GPU-loaders-0"

CASES: list[tuple[str, dict[str, Any], float, bool]] = [
    # type, params, expected seconds, uses an encoder
    ("noop", {"seconds": 2.5}, 2.5, False),
    ("noop", {"expectedSeconds": 7, "seconds": 2.5}, 7.0, False),
    ("noop", {"expectedSeconds": True, "seconds": -1}, 1.0, False),  # malformed: ignored
    ("reencode_streaming", {"seconds": 30}, 600.0, True),  # seconds is noop's alone
    ("reencode_streaming", {"usesEncoder": False}, 600.0, False),
    ("noop", {"expectedSeconds": "soon", "usesEncoder": "yes"}, 1.0, False),
    ("noop", {"usesEncoder": True}, 1.0, True),
]


def add(settings: Settings, status: str, job_type: str, params: dict[str, Any]) -> int:
    with engine_for(settings.database_url).begin() as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO jobs (type, status, resource_category, vram_required, params,"
                    " assigned_gpu) VALUES (:t, :s, 'gpu_encode', 1024, CAST(:p AS jsonb), :g)"
                    " RETURNING id"
                ),
                {
                    "t": job_type,
                    "s": status,
                    "p": json.dumps(params),
                    "g": GPU if status == "queued" else None,
                },
            ).scalar_one()
        )


@pytest.mark.parametrize(("job_type", "params", "seconds", "encoder"), CASES)
def test_pending_and_live_jobs_read_the_same_run_time_and_encoder_use(
    settings: Settings, job_type: str, params: dict[str, Any], seconds: float, encoder: bool
) -> None:
    pending_id = add(settings, "pending", job_type, params)
    live_id = add(settings, "queued", job_type, params)
    with engine_for(settings.database_url).connect() as conn:
        (pending,) = [j for j in load_pending(conn, "gpu_encode", 10, False) if j.id == pending_id]
        (live,) = [j for j in load_live(conn) if j.id == live_id]
        db_now = conn.execute(text("SELECT now()")).scalar_one()
    assert (pending.expected_s, pending.uses_encoder) == (seconds, encoder)
    assert live.uses_encoder == encoder
    assert live.expected_end is not None  # queued: it ends that long after now (one snapshot)
    assert (live.expected_end - db_now).total_seconds() == pytest.approx(seconds)
