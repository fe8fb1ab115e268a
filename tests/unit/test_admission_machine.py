"""A Hypothesis state machine over the pure admission core and the reservation ledger.

The model plays the rest of the system around ``plan_all``: jobs are submitted, ticks run
admission passes, workers start jobs (through the preflight verdict, on fresh numbers) and
finish or crash them, foreign processes take and free memory (never more than is physically
free), hosts stop heartbeating and GPUs get lost. Invariants, after every step:

- on every GPU: reserved + foreign (as admission saw it) + safety margin <= capacity;
- physically: what running jobs use + what foreign processes hold <= capacity;
- no job holds two reservations, and nothing is placed on a silent host or a lost GPU;
- every pending GPU job has a coded reason with numbers, ``NEVER_FITS`` exactly when no
  registered GPU of its class could ever hold it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from scheduler.admission import plan_all
from scheduler.model import Capacity, GpuView, LiveJob, PendingJob
from tasks.preflight import GpuNow, OtherJobs, preflight_verdict

MARGIN = 512
CLASSES = ("gpu_ai", "gpu_encode")
SIZES = (8192, 16384, 24576, 81920)
CODES = {
    "RESOURCES_VRAM",
    "SLOTS_BUSY",
    "NVENC_SESSIONS",
    "NEVER_FITS",
    "NO_WORKERS",
    "DRAINING_FOR",
}
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@dataclass
class Gpu:
    uuid: str
    host: str
    total: int
    foreign: dict[int, int] = field(default_factory=dict)  # pid -> MiB, the truth
    sessions: int = 0  # foreign encoder sessions
    lost: bool = False
    seen_foreign: int = 0  # the last heartbeat's numbers
    seen_used: int = 0
    seen_sessions: int = 0
    admitted_foreign: int = 0  # foreign memory as admission counted it, last time it placed


@dataclass
class Host:
    name: str
    slots: int
    nvenc: int
    classes: tuple[str, ...]
    alive: bool = True


@dataclass
class Job:
    id: int
    cls: str
    vram: int
    enc: bool
    priority: int
    expected_s: float
    created_at: datetime
    status: str = "pending"
    gpu: str | None = None
    started_at: datetime | None = None
    uses: int = 0  # MiB really allocated while running


class AdmissionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.gpus: dict[str, Gpu] = {}
        self.hosts: dict[str, Host] = {}
        self.jobs: dict[int, Job] = {}
        self.next_id = 1
        self.next_pid = 100

    # ---- the fleet -----------------------------------------------------------------------
    @initialize(
        fleet=st.lists(
            st.tuples(
                st.lists(st.sampled_from(SIZES), min_size=1, max_size=2),
                st.integers(1, 4),
                st.integers(0, 3),
                st.sampled_from([CLASSES, ("gpu_ai",), ("gpu_encode",)]),
            ),
            min_size=1,
            max_size=3,
        )
    )
    def make_fleet(self, fleet: list[tuple[list[int], int, int, tuple[str, ...]]]) -> None:
        for h, (sizes, slots, nvenc, classes) in enumerate(fleet):
            host = Host(f"h{h}", slots, nvenc, classes)
            self.hosts[host.name] = host
            for i, size in enumerate(sizes):
                uuid = f"GPU-{h}-{i}"
                self.gpus[uuid] = Gpu(uuid, host.name, size)

    def live_jobs(self, gpu: str | None = None) -> list[Job]:
        return [
            j
            for j in self.jobs.values()
            if j.status in ("queued", "running") and (gpu is None or j.gpu == gpu)
        ]

    def reserved(self, gpu: str) -> int:
        return sum(j.vram for j in self.live_jobs(gpu))

    def physically_used(self, gpu: Gpu) -> int:
        ours = sum(j.uses for j in self.live_jobs(gpu.uuid) if j.status == "running")
        return ours + sum(gpu.foreign.values())

    def serving(self, gpu: Gpu) -> bool:
        return self.hosts[gpu.host].alive and not gpu.lost

    # ---- rules ---------------------------------------------------------------------------
    @rule(
        cls=st.sampled_from(CLASSES),
        vram=st.one_of(st.integers(0, 20000), st.integers(20000, 90000)),
        enc=st.booleans(),
        priority=st.integers(0, 9),
        expected_s=st.floats(0.1, 120),
        count=st.integers(1, 4),
    )
    def submit(
        self, cls: str, vram: int, enc: bool, priority: int, expected_s: float, count: int
    ) -> None:
        for _ in range(count):
            self.jobs[self.next_id] = Job(
                self.next_id,
                cls,
                vram,
                enc and cls == "gpu_encode",
                priority,
                expected_s,
                self.now + timedelta(microseconds=self.next_id),
            )
            self.next_id += 1

    @rule(dt=st.floats(0, 30))
    def tick(self, dt: float) -> None:
        """Time passes, live hosts heartbeat, the rescue runs, then one admission pass."""
        self.now += timedelta(seconds=dt)
        for gpu in self.gpus.values():
            if self.hosts[gpu.host].alive:
                gpu.seen_foreign = sum(gpu.foreign.values())
                gpu.seen_used = self.physically_used(gpu)
                gpu.seen_sessions = gpu.sessions + sum(
                    j.enc for j in self.live_jobs(gpu.uuid) if j.status == "running"
                )
        for job in self.live_jobs():
            gpu = self.gpus[job.gpu or ""]
            if not self.serving(gpu):  # rescue: queued withdrawn, running timed out
                self.release(job)
        self.admit()

    def admit(self) -> None:
        pending = {
            c: sorted(
                (j for j in self.jobs.values() if j.status == "pending" and j.cls == c),
                key=lambda j: (-j.priority, j.created_at, j.id),
            )
            for c in CLASSES
        }
        plan = plan_all(
            {c: [self.pending_view(j) for j in jobs] for c, jobs in pending.items()},
            [self.live_view(j) for j in self.live_jobs()],
            self.capacity(),
            self.now,
            MARGIN,
        )
        placed = [p.job_id for p in plan.admitted]
        assert len(placed) == len(set(placed)), "a job placed twice in one pass"
        touched = set()
        for p in plan.admitted:
            job = self.jobs[p.job_id]
            assert job.status == "pending", f"job {job.id} already holds a reservation"
            gpu = self.gpus[p.gpu_uuid or ""]
            assert self.serving(gpu), f"job placed on lost GPU or silent host {gpu.uuid}"
            assert job.cls in self.hosts[gpu.host].classes
            job.status, job.gpu = "queued", gpu.uuid
            touched.add(gpu.uuid)
        for uuid in touched:
            self.check_admission(self.gpus[uuid])
        self.check_reasons(pending, plan.waiting, set(placed))

    def check_admission(self, gpu: Gpu) -> None:
        host = self.hosts[gpu.host]
        live = self.live_jobs(gpu.uuid)
        running = sum(j.vram for j in live if j.status == "running")
        foreign = max(gpu.seen_foreign, gpu.seen_used - running, 0)
        gpu.admitted_foreign = foreign
        assert self.reserved(gpu.uuid) + foreign + MARGIN <= gpu.total, gpu
        assert len(live) <= host.slots
        ours_enc = sum(j.enc for j in live)
        running_enc = sum(j.enc for j in live if j.status == "running")
        foreign_sessions = max(gpu.seen_sessions - running_enc, 0)
        if any(j.enc for j in live):
            assert ours_enc + foreign_sessions <= host.nvenc

    def check_reasons(self, pending: dict[str, list[Job]], waiting: object, placed: set[int]):
        reasons = {w.job_id: w for w in waiting}  # type: ignore[attr-defined]
        for cls, jobs in pending.items():
            could_ever = [
                g.total - MARGIN for g in self.gpus.values() if cls in self.hosts[g.host].classes
            ]
            for position, job in enumerate(jobs, start=1):
                if job.id in placed:
                    continue
                w = reasons.get(job.id)
                assert w is not None, f"pending job {job.id} without a reason"
                assert w.position == position
                assert w.code in CODES, w
                assert w.reason.startswith(w.code + ":")
                assert any(ch.isdigit() for ch in w.reason) or w.code == "NO_WORKERS"
                never = not could_ever or job.vram > max(could_ever)
                if w.code == "NEVER_FITS":
                    assert never, w
                elif never:
                    assert w.code == "NO_WORKERS" and not could_ever, w

    @precondition(lambda self: any(j.status == "queued" for j in self.jobs.values()))
    @rule(data=st.data(), fraction=st.floats(0, 1))
    def start(self, data: st.DataObject, fraction: float) -> None:
        """A worker claims a queued job; its preflight checks the fresh numbers first."""
        queued = sorted(j.id for j in self.jobs.values() if j.status == "queued")
        job = self.jobs[data.draw(st.sampled_from(queued))]
        gpu = self.gpus[job.gpu or ""]
        if not self.serving(gpu):
            return  # nobody serves that GPU's queue; the rescue withdraws it at the next tick
        others = [j for j in self.live_jobs(gpu.uuid) if j.id != job.id]
        used = self.physically_used(gpu)
        verdict = preflight_verdict(
            job.vram,
            GpuNow(
                gpu.uuid, gpu.host, gpu.total, gpu.total - used, used, sum(gpu.foreign.values())
            ),
            OtherJobs(
                sum(j.vram for j in others),
                len(others),
                sum(j.vram for j in others if j.status == "running"),
            ),
        )
        if verdict is not None:
            assert verdict.startswith(f"PREFLIGHT_FAILED: needs {job.vram} MiB")
            self.release(job)
            return
        job.status, job.started_at = "running", self.now
        job.uses = int(job.vram * fraction)

    @precondition(lambda self: any(j.status == "running" for j in self.jobs.values()))
    @rule(data=st.data(), crash=st.booleans())
    def finish_or_crash(self, data: st.DataObject, crash: bool) -> None:
        running = sorted(j.id for j in self.jobs.values() if j.status == "running")
        job = self.jobs[data.draw(st.sampled_from(running))]
        if crash:
            self.release(job)  # retried: back to pending, reservation freed
        else:
            job.status, job.gpu, job.uses = "completed", None, 0

    @precondition(lambda self: any(j.status != "completed" for j in self.jobs.values()))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        open_ = sorted(j.id for j in self.jobs.values() if j.status in ("pending", "queued"))
        if open_:
            job = self.jobs[data.draw(st.sampled_from(open_))]
            job.status, job.gpu = "cancelled", None

    @rule(data=st.data(), share=st.floats(0, 1))
    def foreign_alloc(self, data: st.DataObject, share: float) -> None:
        """Another process takes memory: only what is physically free, nothing more."""
        gpu = self.gpus[data.draw(st.sampled_from(sorted(self.gpus)))]
        if gpu.lost:
            return
        free = gpu.total - self.physically_used(gpu)
        self.next_pid += 1
        gpu.foreign[self.next_pid] = int(free * share)

    @rule(data=st.data())
    def foreign_free(self, data: st.DataObject) -> None:
        gpu = self.gpus[data.draw(st.sampled_from(sorted(self.gpus)))]
        if gpu.foreign:
            gpu.foreign.pop(data.draw(st.sampled_from(sorted(gpu.foreign))))

    @rule(data=st.data(), sessions=st.integers(0, 3))
    def foreign_sessions(self, data: st.DataObject, sessions: int) -> None:
        self.gpus[data.draw(st.sampled_from(sorted(self.gpus)))].sessions = sessions

    @rule(data=st.data(), alive=st.booleans())
    def heartbeat(self, data: st.DataObject, alive: bool) -> None:
        """A host stops heartbeating (or comes back)."""
        self.hosts[data.draw(st.sampled_from(sorted(self.hosts)))].alive = alive

    @rule(data=st.data(), lost=st.booleans())
    def gpu_lost(self, data: st.DataObject, lost: bool) -> None:
        """NVML loses a GPU: the daemon kills its worker and releases its jobs at once."""
        gpu = self.gpus[data.draw(st.sampled_from(sorted(self.gpus)))]
        gpu.lost = lost
        if lost:
            for job in self.live_jobs(gpu.uuid):
                self.release(job)

    def release(self, job: Job) -> None:
        job.status, job.gpu, job.started_at, job.uses = "pending", None, None, 0

    # ---- views the core gets -------------------------------------------------------------
    def capacity(self) -> Capacity:
        live, away = [], []
        for gpu in self.gpus.values():
            host = self.hosts[gpu.host]
            view = GpuView(
                uuid=gpu.uuid,
                host=gpu.host,
                index=0,
                name="model",
                total_mib=gpu.total,
                free_mib=gpu.total - gpu.seen_used,
                foreign_mib=gpu.seen_foreign,
                used_mib=gpu.seen_used,
                encoder_sessions=gpu.seen_sessions,
                slots=host.slots,
                encoder_limit=host.nvenc,
                healthy=not gpu.lost,
                classes=host.classes,
            )
            (live if host.alive else away).append(view)
        return Capacity(0, tuple(live), tuple(away))

    def pending_view(self, job: Job) -> PendingJob:
        return PendingJob(
            job.id,
            job.cls,
            job.priority,
            job.created_at,
            job.vram,
            uses_encoder=job.enc,
            expected_s=job.expected_s,
        )

    def live_view(self, job: Job) -> LiveJob:
        begin = job.started_at or self.now
        return LiveJob(
            job.id,
            job.cls,
            job.status,
            job.gpu,
            job.vram,
            uses_encoder=job.enc,
            started_at=job.started_at,
            expected_end=begin + timedelta(seconds=job.expected_s),
        )

    # ---- invariants ----------------------------------------------------------------------
    @invariant()
    def never_overcommitted(self) -> None:
        for gpu in self.gpus.values():
            # reservations only shrink between admissions, which check this on placing
            assert self.reserved(gpu.uuid) + gpu.admitted_foreign + MARGIN <= gpu.total or (
                not self.live_jobs(gpu.uuid)
            )
            assert self.physically_used(gpu) <= gpu.total

    @invariant()
    def one_reservation_per_job(self) -> None:
        for job in self.jobs.values():
            holds = job.status in ("queued", "running")
            assert holds == (job.gpu is not None), job


AdmissionMachine.TestCase.settings = settings(
    max_examples=500,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAdmissionMachine = AdmissionMachine.TestCase
