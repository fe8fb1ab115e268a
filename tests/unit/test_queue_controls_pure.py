"""Pure parts of the queue controls: which pause holds a job, the PAUSED sentence, bulk
filters as SQL, and that admission never admits a paused job."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaq.bulk import BulkError, JobFilter
from mediaq.pauses import Pause, covering
from scheduler.model import PendingJob
from scheduler.ordering import plan_slots

AT = datetime(2026, 11, 29, 22, 40, tzinfo=UTC)
CLASSES = ("cpu", "gpu_encode", "gpu_ai")
TYPES = ("noop", "scan", "thumbnail")


def test_the_class_wide_pause_wins_and_names_who_and_when() -> None:
    by_type = Pause("cpu", "scan", "admin 2", AT)
    whole = Pause("cpu", "", "admin 7", AT)
    assert covering([by_type], "cpu", "scan") is by_type
    assert covering([by_type], "cpu", "noop") is None
    assert covering([by_type, whole], "cpu", "scan") is whole
    assert covering([whole], "gpu_ai", "scan") is None
    assert whole.reason() == "PAUSED: class cpu paused by admin 7 at 2026-11-29T22:40:00.000Z"
    assert by_type.reason().startswith("PAUSED: type scan in cpu paused by admin 2")


pauses = st.lists(
    st.builds(
        Pause,
        st.sampled_from(CLASSES),
        st.sampled_from(("", *TYPES)),
        st.just("admin 1"),
        st.just(AT),
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(pauses=pauses, types=st.lists(st.sampled_from(TYPES), min_size=1, max_size=12))
def test_admission_never_admits_a_paused_job(pauses: list[Pause], types: list[str]) -> None:
    jobs = []
    for i, job_type in enumerate(types):
        pause = covering(pauses, "cpu", job_type)
        jobs.append(PendingJob(i + 1, "cpu", 5, AT, paused=pause.reason() if pause else None))
    plan = plan_slots(jobs, slots=4, busy=0, now=AT)
    admitted = {p.job_id for p in plan.admitted}
    paused = {j.id for j in jobs if j.paused}
    assert admitted.isdisjoint(paused)
    codes = {w.job_id: w.code for w in plan.waiting}
    assert all(codes[i] == "PAUSED" for i in paused)
    # every job that is not paused and fits the four slots is admitted, in order
    free = [j.id for j in jobs if not j.paused]
    assert sorted(admitted) == free[:4]


def test_bulk_filters_become_parameterised_sql() -> None:
    where, params = JobFilter(
        status="failed", type="noop", resource_category="cpu", text="50%_x", created_before=AT
    ).where()
    assert "jobs.status = :f_status" in where and "jobs.created_at < :f_before" in where
    assert params["f_text"] == "%50\\%\\_x%"
    assert JobFilter().where() == ("true", {})
    assert JobFilter(ids=(3, 4)).where() == ("jobs.id = ANY(:f_ids)", {"f_ids": [3, 4]})


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"status": "sleeping"}, "status must be one of"),
        ({"type": "nope"}, "unknown job type"),
        ({"resource_category": "tpu"}, "resourceCategory"),
        ({"text": "x" * 201}, "text"),
        ({"ids": tuple(range(10_001))}, "at most 10000 ids"),
    ],
)
def test_bad_bulk_filters_are_refused(fields: dict[str, object], needle: str) -> None:
    with pytest.raises(BulkError, match=needle):
        JobFilter(**fields)  # type: ignore[arg-type]
