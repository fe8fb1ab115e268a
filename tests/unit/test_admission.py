"""GPU admission, example by example: best fit, margin, foreign memory, encoder sessions,
holds and backfill, aging across classes, and the waiting reasons with their numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from scheduler.admission import AdmissionPolicy, plan_all
from scheduler.fleet import run_seconds, uses_encoder
from scheduler.model import Capacity, GpuView, LiveJob, PendingJob, Plan

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MARGIN = 512


def gpu(uuid: str, total: int, **kw: object) -> GpuView:
    values: dict[str, object] = {
        "host": "gpu-1",
        "index": 0,
        "name": "Fake",
        "total_mib": total,
        "free_mib": total,
        "foreign_mib": 0,
        "slots": 4,
        "encoder_limit": 3,
    }
    values.update(kw)
    return GpuView(uuid=uuid, **values)  # type: ignore[arg-type]


def job(i: int, vram: int, cls: str = "gpu_ai", age_s: float = 0.0, **kw: object) -> PendingJob:
    created = NOW - timedelta(seconds=1000 - i + age_s)
    values: dict[str, object] = {"priority": 5, "expected_s": 10.0}
    values.update(kw)
    return PendingJob(i, cls, created_at=created, vram_required=vram, **values)  # type: ignore[arg-type]


def running(i: int, on: str, vram: int, ends_in: float, enc: bool = False) -> LiveJob:
    return LiveJob(
        i,
        "gpu_ai",
        "running",
        on,
        vram,
        uses_encoder=enc,
        started_at=NOW,
        expected_end=NOW + timedelta(seconds=ends_in),
    )


def plan(
    pending: list[PendingJob],
    gpus: list[GpuView],
    live: list[LiveJob] | None = None,
    policy: AdmissionPolicy | None = None,
    offline: list[GpuView] | None = None,
) -> Plan:
    by_class: dict[str, list[PendingJob]] = {}
    for p in pending:
        by_class.setdefault(p.resource_category, []).append(p)
    capacity = Capacity(0, tuple(gpus), tuple(offline or ()))
    return plan_all(by_class, live or [], capacity, NOW, MARGIN, policy)


def placed(p: Plan) -> dict[int, str | None]:
    return {a.job_id: a.gpu_uuid for a in p.admitted}


def reason(p: Plan, job_id: int) -> tuple[str, str]:
    w = next(w for w in p.waiting if w.job_id == job_id)
    return w.code, w.reason


# ---- placement ---------------------------------------------------------------------------
def test_best_fit_picks_the_gpu_with_least_memory_left_over() -> None:
    p = plan([job(1, 12000)], [gpu("GPU-big", 24576), gpu("GPU-small", 16384)])
    assert placed(p) == {1: "GPU-small"}


def test_margin_is_kept_free_and_a_job_beyond_every_gpu_never_fits() -> None:
    p = plan([job(1, 16384 - MARGIN), job(2, 16384 - MARGIN + 1)], [gpu("GPU-a", 16384)])
    assert placed(p) == {1: "GPU-a"}
    code, text = reason(p, 2)
    assert code == "NEVER_FITS"
    assert text == (
        "NEVER_FITS: needs 15873 MiB; the largest GPU serving gpu_ai, gpu-1/GPU-a, has "
        "16384 MiB (512 MiB safety margin); lower its vramRequired, add a GPU with at least "
        "16385 MiB, or run it on the CPU (resourceCategory cpu)"
    )


def test_foreign_memory_is_subtracted_and_the_reason_has_the_numbers() -> None:
    gpus = [gpu("GPU-3f2a", 16384, free_mib=10240, used_mib=6144, foreign_mib=2048)]
    live = [running(9, "GPU-3f2a", 4096, ends_in=60)]
    p = plan([job(1, 12288)], gpus, live)
    assert placed(p) == {}
    code, text = reason(p, 1)
    assert code == "RESOURCES_VRAM"
    # the SPEC's example sentence, with the margin added to the breakdown
    assert text.startswith(
        "RESOURCES_VRAM: needs 12288 MiB; best GPU gpu-1/GPU-3f2a has 9728 MiB available "
        "(4096 reserved by 1 job, 2048 used by other processes, 512 safety margin)"
    )


def test_memory_no_process_owns_counts_as_foreign() -> None:
    # NVML shows no foreign process (another container), but 'used' exceeds our running jobs
    gpus = [gpu("GPU-a", 16384, used_mib=10000, foreign_mib=0)]
    live = [running(9, "GPU-a", 4000, ends_in=60)]
    p = plan([job(1, 6000), job(2, 5000)], gpus, live)
    # 16384 - 512 - 4000 reserved - 6000 foreign = 5872: only the 5000 MiB job fits
    assert placed(p) == {2: "GPU-a"}
    assert "6000 used by other processes" in reason(p, 1)[1]


def test_admission_uses_free_memory_not_used_our_own_jobs_are_not_counted_twice() -> None:
    # our running job really allocated its 8000 MiB: 'used' shows it, the ledger too
    gpus = [gpu("GPU-a", 16384, used_mib=8000, free_mib=8384)]
    live = [running(9, "GPU-a", 8000, ends_in=60)]
    p = plan([job(1, 7872)], gpus, live)
    assert placed(p) == {1: "GPU-a"}


def test_job_slots_are_a_limit_of_their_own() -> None:
    gpus = [gpu("GPU-a", 81920, slots=2)]
    live = [running(8, "GPU-a", 1000, 60), running(9, "GPU-a", 1000, 60)]
    p = plan([job(1, 1000)], gpus, live)
    assert placed(p) == {}
    assert reason(p, 1) == (
        "SLOTS_BUSY",
        "SLOTS_BUSY: needs 1000 MiB; the GPUs with room have all their job slots busy "
        "(gpu-1/GPU-a: 2 of 2); first in gpu_ai: gpu-1/GPU-a is held for it",
    )


def test_encoder_sessions_are_a_second_resource_for_gpu_encode() -> None:
    # limit 3: one session is ours (running), two belong to another process
    gpus = [gpu("GPU-a", 81920, encoder_limit=3, encoder_sessions=3)]
    live = [running(9, "GPU-a", 1000, 60, enc=True)]
    p = plan(
        [
            job(1, 1000, "gpu_encode", uses_encoder=True),
            job(2, 1000, "gpu_encode", uses_encoder=False),
            job(3, 1000, "gpu_ai"),
        ],
        gpus,
        live,
    )
    assert placed(p) == {2: "GPU-a", 3: "GPU-a"}
    code, text = reason(p, 1)
    assert code == "NVENC_SESSIONS"
    assert "(gpu-1/GPU-a: 1 ours, 2 other, limit 3)" in text


def test_lost_gpus_silent_hosts_and_draining_hosts_get_nothing() -> None:
    gpus = [gpu("GPU-lost", 81920, healthy=False), gpu("GPU-drain", 81920, draining=True)]
    offline = [gpu("GPU-silent", 81920, host="gpu-2")]
    p = plan([job(1, 1000)], gpus, offline=offline)
    assert placed(p) == {}
    code, text = reason(p, 1)
    assert code == "NO_WORKERS"
    assert "3 registered GPU(s) offline, lost or draining" in text
    assert "--resource-category cpu" in text and "MEDIAQ_CPU_ONLY=true" in text


def test_a_job_only_an_offline_gpu_could_hold_waits_for_workers_not_never_fits() -> None:
    p = plan([job(1, 40000)], [gpu("GPU-a", 16384)], offline=[gpu("GPU-b", 81920, host="h2")])
    assert reason(p, 1) == (
        "NO_WORKERS",
        "NO_WORKERS: needs 40000 MiB; only offline GPUs could hold it (h2/GPU-b has 81920 MiB);"
        " bring h2 back, or lower vramRequired",
    )


def test_only_gpus_serving_the_class_take_its_jobs() -> None:
    gpus = [
        gpu("GPU-ai", 16384, classes=("gpu_ai",)),
        gpu("GPU-enc", 24576, classes=("gpu_encode",)),
    ]
    p = plan([job(1, 1000, "gpu_encode"), job(2, 1000, "gpu_ai")], gpus)
    assert placed(p) == {1: "GPU-enc", 2: "GPU-ai"}


def test_held_and_backoff_jobs_keep_their_reason_and_positions_count_per_class() -> None:
    held = job(1, 1000, held=True, held_reason="DEPENDENCY: waits for step 0")
    backoff = job(2, 1000, not_before=NOW + timedelta(seconds=30))
    p = plan([held, backoff, job(3, 1000, "gpu_encode")], [gpu("GPU-a", 16384)])
    assert placed(p) == {3: "GPU-a"}
    waiting = {w.job_id: (w.position, w.code) for w in p.waiting}
    assert waiting == {1: (1, "DEPENDENCY"), 2: (2, "RETRY_BACKOFF")}


# ---- holds and backfill ------------------------------------------------------------------
def full_80g() -> tuple[list[GpuView], list[LiveJob]]:
    """An 80 GiB GPU with three 8 GiB jobs ending in 2, 3 and 4 s."""
    live = [running(90 + i, "GPU-80", 8192, ends_in=2 + i) for i in range(3)]
    return [gpu("GPU-80", 81920, slots=8)], live


def test_head_job_holds_the_gpu_that_frees_soonest() -> None:
    gpus, live = full_80g()
    p = plan([job(1, 71680)], [*gpus, gpu("GPU-16", 16384)], live)
    code, text = reason(p, 1)
    assert code == "RESOURCES_VRAM"
    assert text.endswith("first in gpu_ai: gpu-1/GPU-80 is held for it")


def test_backfill_that_ends_before_the_hold_starts_is_admitted() -> None:
    gpus, live = full_80g()
    # the head can start once two of the three end (t = 3 s); a 2 s job ends before
    p = plan([job(1, 71680), job(2, 30000, expected_s=2.0)], gpus, live)
    assert placed(p) == {2: "GPU-80"}


def test_backfill_that_would_delay_the_head_waits_draining_for_it() -> None:
    gpus, live = full_80g()
    p = plan([job(1, 71680), job(2, 30000, expected_s=60.0)], gpus, live)
    assert placed(p) == {}
    assert reason(p, 2) == (
        "DRAINING_FOR",
        "DRAINING_FOR: needs 30000 MiB; gpu-1/GPU-80 is being drained for job 1 (71680 MiB), "
        "first in gpu_ai",
    )


def test_a_long_job_may_run_beside_the_held_head_when_both_fit() -> None:
    gpus = [gpu("GPU-80", 81920, slots=8)]
    live = [running(90, "GPU-80", 40000, ends_in=5)]
    # once it ends, 81408 usable - 71680 for the head leaves 9728: room for one 8 GiB job
    pending = [job(1, 71680), job(2, 8192, expected_s=600), job(3, 8192, expected_s=600)]
    p = plan(pending, gpus, live)
    assert placed(p) == {2: "GPU-80"}
    assert reason(p, 3)[0] == "DRAINING_FOR"


def test_the_hold_counts_jobs_still_running_when_it_starts() -> None:
    gpus, live = full_80g()
    # the head can start at 3 s with 1536 MiB to spare: a long 8 GiB job would delay it
    p = plan([job(1, 71680), job(2, 8192, expected_s=600)], gpus, live)
    assert placed(p) == {}
    assert reason(p, 2)[0] == "DRAINING_FOR"


def test_a_job_past_its_expected_end_is_assumed_to_need_a_quarter_of_its_estimate() -> None:
    gpus = [gpu("GPU-80", 81920, slots=8)]
    overdue = LiveJob(
        90,
        "gpu_ai",
        "running",
        "GPU-80",
        40000,
        started_at=NOW - timedelta(seconds=100),
        expected_end=NOW - timedelta(seconds=40),  # a 60 s estimate, overrun by 40 s
    )
    pending = [job(1, 71680), job(2, 20000, expected_s=10), job(3, 20000, expected_s=30)]
    p = plan(pending, gpus, [overdue])
    # assumed to end in 15 s: a 10 s job may backfill, a 30 s one would delay the head
    assert placed(p) == {2: "GPU-80"}
    assert reason(p, 3)[0] == "DRAINING_FOR"


def test_without_head_holds_small_jobs_overtake_the_head_forever() -> None:
    gpus, live = full_80g()
    greedy = AdmissionPolicy(reserve_head=False)
    p = plan([job(1, 71680), job(2, 30000, expected_s=60.0)], gpus, live, greedy)
    assert placed(p) == {2: "GPU-80"}


def test_strict_fifo_lets_nothing_pass_a_blocked_job() -> None:
    gpus, live = full_80g()
    fifo = AdmissionPolicy(backfill=False)
    p = plan([job(1, 71680), job(2, 1000, expected_s=0.1)], gpus, live, fifo)
    assert placed(p) == {}
    assert reason(p, 2) == (
        "PRIORITY",
        "PRIORITY: waits behind job 1 (71680 MiB), first in gpu_ai (strict order)",
    )


# ---- order -------------------------------------------------------------------------------
def test_within_a_class_order_is_exact_priority_then_age() -> None:
    # one slot: the higher priority job goes first even though the other waited longer
    gpus = [gpu("GPU-a", 16384, slots=1)]
    old_low = job(1, 1000, priority=1, age_s=3600)
    new_high = job(2, 1000, priority=9)
    p = plan([new_high, old_low], gpus)
    assert placed(p) == {2: "GPU-a"}


def test_across_classes_an_old_job_ages_past_fresh_higher_priority_ones() -> None:
    gpus = [gpu("GPU-a", 16384, slots=1)]
    fresh_high = job(1, 1000, "gpu_ai", priority=9)
    old_low = job(2, 1000, "gpu_encode", priority=5, age_s=3600)  # 12 levels of aging
    assert placed(plan([fresh_high, old_low], gpus)) == {2: "GPU-a"}
    young_low = job(3, 1000, "gpu_encode", priority=5)
    assert placed(plan([fresh_high, young_low], gpus)) == {1: "GPU-a"}


def test_every_waiting_reason_is_a_code_and_a_sentence_with_numbers() -> None:
    gpus, live = full_80g()
    pending = [job(i, vram) for i, vram in enumerate([71680, 8192, 30000, 90000, 500], 1)]
    p = plan(pending, gpus, live)
    assert {w.job_id for w in p.waiting} | set(placed(p)) == {1, 2, 3, 4, 5}
    for w in p.waiting:
        assert re.match(r"^[A-Z_]+: .*\d", w.reason), w
        assert w.reason.startswith(w.code + ":")


# ---- expected durations and encoder use from params --------------------------------------
def test_expected_seconds_come_from_params_then_the_type() -> None:
    assert run_seconds("noop", 2.5) == 2.5
    assert run_seconds("reencode_streaming", None) == 600.0  # the type's default
    assert run_seconds("tag_generation", None) == 300.0
    assert run_seconds("noop", None) == 1.0


def test_encoder_use_comes_from_the_type_or_an_explicit_param() -> None:
    assert uses_encoder("reencode_streaming", "gpu_encode")
    assert not uses_encoder("reencode_streaming", "gpu_ai")
    assert not uses_encoder("noop", "gpu_encode")
    assert uses_encoder("noop", "gpu_encode", True)
    assert not uses_encoder("digest", "gpu_encode", False)


# ---- starvation, simulated ---------------------------------------------------------------
@dataclass
class Sim:
    """Simulated time over the pure core: a tick every 0.2 s, jobs start when placed."""

    policy: AdmissionPolicy
    tick_s: float = 0.2
    t: float = 0.0
    next_id: int = 1
    pending: list[tuple[int, int, float, float]] = field(default_factory=list)
    running: dict[int, tuple[str, int, float, float]] = field(default_factory=dict)
    started: dict[int, float] = field(default_factory=dict)

    def submit(self, vram: int, seconds: float) -> int:
        job_id = self.next_id
        self.next_id += 1
        self.pending.append((job_id, vram, seconds, self.t))
        return job_id

    def step(self, gpus: list[GpuView]) -> None:
        self.t += self.tick_s
        now = NOW + timedelta(seconds=self.t)
        for job_id, (_, _, start, dur) in list(self.running.items()):
            if start + dur <= self.t:
                del self.running[job_id]
        live = [
            LiveJob(
                i,
                "gpu_ai",
                "running",
                g,
                v,
                started_at=NOW + timedelta(seconds=s),
                expected_end=NOW + timedelta(seconds=s + d),
            )
            for i, (g, v, s, d) in self.running.items()
        ]
        pend = [
            PendingJob(i, "gpu_ai", 5, NOW + timedelta(seconds=c), v, expected_s=d)
            for i, v, d, c in self.pending
        ]
        p = plan_all({"gpu_ai": pend}, live, Capacity(0, tuple(gpus)), now, MARGIN, self.policy)
        chosen = {a.job_id: a.gpu_uuid for a in p.admitted}
        for i, v, d, _ in [x for x in self.pending if x[0] in chosen]:
            self.running[i] = (chosen[i] or "", v, self.t, d)
            self.started[i] = self.t
        self.pending = [x for x in self.pending if x[0] not in chosen]

    def is_head(self, job_id: int) -> bool:
        return bool(self.pending) and self.pending[0][0] == job_id


def run_stream(policy: AdmissionPolicy, horizon_s: float) -> tuple[float | None, float]:
    """An endless stream of 8 GiB jobs (1-3 s) and one 70 GiB job; when does it start?"""
    sim = Sim(policy)
    gpus = [gpu("GPU-80", 81920, slots=10)]
    durations = [1.0, 2.0, 3.0, 1.5, 2.5]
    for k in range(20):
        sim.submit(8192, durations[k % 5])
    for _ in range(10):
        sim.step(gpus)
    big = sim.submit(71680, 5.0)
    reached: float | None = None
    k = 0
    while sim.t < horizon_s and big not in sim.started:
        while sum(1 for x in sim.pending if x[1] == 8192) < 10:
            sim.submit(8192, durations[k % 5])
            k += 1
        if reached is None and sim.is_head(big):
            reached = sim.t
        sim.step(gpus)
    if big not in sim.started or reached is None:
        return None, max(durations)
    return sim.started[big] - reached, max(durations)


def test_big_job_starts_within_the_longest_small_job_plus_one_tick_of_reaching_the_head() -> None:
    waited, longest = run_stream(AdmissionPolicy(), horizon_s=120)
    assert waited is not None
    assert waited <= longest + 0.2 + 1e-9


def test_greedy_admission_starves_the_big_job() -> None:
    waited, _ = run_stream(AdmissionPolicy(reserve_head=False), horizon_s=120)
    assert waited is None


def test_across_classes_jobs_written_at_the_same_moment_go_in_id_order() -> None:
    gpus = [gpu("GPU-a", 16384, slots=1)]
    same = NOW - timedelta(seconds=5)
    encode_first = PendingJob(1, "gpu_encode", 5, same, 1000)
    ai_second = PendingJob(2, "gpu_ai", 5, same, 1000)
    assert placed(plan([ai_second, encode_first], gpus)) == {1: "GPU-a"}
