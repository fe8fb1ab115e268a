"""Job states, backoff and job-type defaults: the pure rules of the lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mediaq.backoff import next_attempt_at, retry_delay_s, should_retry
from mediaq.enqueue import JobSpec, job_row
from mediaq.errors import ValidationError
from mediaq.jobstates import TERMINAL, JobStatus, can_transition, holds_reservation
from mediaq.queues import cpu_queue, gpu_queue, task_id


def test_terminal_states_never_move_except_back_to_pending_by_retry() -> None:
    for status in TERMINAL:
        targets = [s for s in JobStatus if can_transition(status, s)]
        assert targets in ([], [JobStatus.PENDING])
    assert not can_transition("completed", "pending")


def test_only_queued_jobs_can_be_claimed() -> None:
    assert can_transition("queued", "running")
    assert not can_transition("pending", "running")
    assert not can_transition("running", "running")
    assert not can_transition("nonsense", "running")


def test_reservations_are_held_exactly_while_queued_or_running() -> None:
    assert [s.value for s in JobStatus if holds_reservation(s)] == ["queued", "running"]


def test_backoff_grows_and_is_capped() -> None:
    delays = [retry_delay_s(n) for n in range(0, 12)]
    assert delays[0] == 0
    assert delays[1:4] == [2.0, 4.0, 8.0]
    assert max(delays) == 300.0
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert next_attempt_at(now, 2) == now + timedelta(seconds=4)


def test_retry_decision() -> None:
    assert should_retry(1, 3, permanent=False)
    assert not should_retry(3, 3, permanent=False)
    assert not should_retry(1, 3, permanent=True)


def test_job_row_applies_type_defaults_and_overrides() -> None:
    row = job_row(JobSpec("reencode_streaming", {"videoId": 1}))
    assert (row["resource_category"], row["vram_required"]) == ("gpu_encode", 1024)
    row = job_row(
        JobSpec("reencode_streaming", {"videoId": 1}, resource_category="cpu", vram_required=999)
    )
    assert (row["resource_category"], row["vram_required"]) == ("cpu", 0)
    row = job_row(JobSpec("noop", resource_category="gpu_ai", vram_required=4096, priority=9))
    assert (row["resource_category"], row["vram_required"], row["priority"]) == ("gpu_ai", 4096, 9)


@pytest.mark.parametrize(
    "spec",
    [
        JobSpec("no_such_type"),
        JobSpec("noop", params=[1, 2]),  # type: ignore[arg-type]
        JobSpec("noop", params={"x": object()}),
        JobSpec("noop", params={"x": "a\x00b"}),
        JobSpec("noop", priority=10_000),
        JobSpec("noop", priority=True),
        JobSpec("noop", vram_required=-1),
        JobSpec("noop", resource_category="tpu"),
        JobSpec("noop", max_attempts=0),
        JobSpec("noop", params={"blob": "x" * 70_000}),
    ],
)
def test_bad_specs_are_refused(spec: JobSpec) -> None:
    with pytest.raises(ValidationError):
        job_row(spec)


def test_queue_names_and_task_ids_are_deterministic() -> None:
    assert cpu_queue("mq") == "mq.cpu"
    assert gpu_queue("mq", "GPU-1") == "mq.gpu.GPU-1"
    assert task_id(42, 0) == task_id(42, 0) == "job-42-a1"
    assert task_id(42, 1) != task_id(42, 0)


def test_a_cpu_only_deployment_runs_gpu_types_on_cpu_unless_asked_otherwise() -> None:
    row = job_row(JobSpec("tag_generation", {"videoId": 1}, cpu_only=True))
    assert (row["resource_category"], row["vram_required"]) == ("cpu", 0)
    explicit = job_row(
        JobSpec("tag_generation", {"videoId": 1}, resource_category="gpu_ai", cpu_only=True)
    )
    assert (explicit["resource_category"], explicit["vram_required"]) == ("gpu_ai", 4096)
