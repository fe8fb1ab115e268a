"""VRAM-aware admission for the GPU classes (pure).

Pending jobs in order, the GPU snapshots, the ledger of reservations (queued and running
jobs) and the current time in; placements and a waiting reason for every other job out.

- **Never over-commit.** On every GPU: reservations + memory held by other processes +
  safety margin never exceed its capacity. Foreign memory is the larger of what NVML
  attributes to processes that are not ours and what is ``used`` beyond the reservations
  of our running jobs (memory no visible process owns still counts). Each job also takes
  one of the GPU's slots, and a ``gpu_encode`` job that uses the encoder one NVENC session.
- **Best fit**: a job goes where the least memory is left over.
- **No starvation.** The first job of each class that cannot start (its *head*) holds the
  GPU that will have room soonest, from the expected end of the jobs running there. Later
  jobs may backfill only where they cannot delay a hold: they end before it starts, or fit
  beside the held job. Across the two classes, which share GPUs, jobs are taken by
  priority plus one level per ``aging_s`` waited, so an old job of one class is not
  overtaken forever by fresh ones of the other; within a class the order stays exact.
- ``NEVER_FITS`` when no registered GPU serving the class could ever hold the job.

Times inside are seconds relative to ``now`` (floats are cheap; a pass may see 10,000 jobs).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from operator import attrgetter

from scheduler.model import Capacity, GpuView, LiveJob, PendingJob, Placement, Plan, Waiting
from scheduler.ordering import blocked_reason

GPU_CLASSES = ("gpu_ai", "gpu_encode")
SOON_S = 0.001  # the shortest time anything is expected to take
# A job past its expected end is assumed to need this share of its estimate again. Zero
# would hold its GPU idle for the head job until it ends (estimates are often short); a
# large share would let backfill delay the head by as much. Either way the head's wait
# stays bounded: backfill only ever fills the time until a hold starts.
OVERRUN_SHARE = 0.25


@dataclass(frozen=True)
class AdmissionPolicy:
    """How GPU admission trades order against use; the default is mediaq's policy."""

    margin_mib: int = 512
    backfill: bool = True  # False: strict FIFO, nothing passes a blocked job of its class
    reserve_head: bool = True  # hold the soonest-free GPU for each class's blocked head
    aging_s: float = 300.0  # cross-class: one priority level per aging_s waited


@dataclass(frozen=True)
class Hold:
    """A future reservation for a class's head job: ``[start, end)`` seconds from now."""

    job_id: int
    class_name: str
    need_mib: int
    start: float
    end: float
    slots: int
    enc: int


class GpuState:
    """One GPU during a pass: what is free now, what frees later, what is held."""

    __slots__ = (
        "enc_jobs",
        "ever_mib",
        "foreign_mib",
        "foreign_sessions",
        "free_enc",
        "free_mib",
        "free_slots",
        "holds",
        "jobs",
        "releases",
        "reserved_mib",
        "view",
    )

    def __init__(self, view: GpuView, margin_mib: int) -> None:
        self.view = view
        self.ever_mib = view.total_mib - margin_mib
        self.foreign_mib = view.foreign_mib
        self.foreign_sessions = view.encoder_sessions_foreign
        self.reserved_mib = 0
        self.jobs = 0
        self.enc_jobs = 0
        self.free_mib = 0
        self.free_slots = 0
        self.free_enc = 0
        self.releases: list[tuple[float, int, int]] = []  # (seconds from now, MiB, encoder)
        self.holds: list[Hold] = []

    def settle(self, running_mib: int, running_enc: int) -> None:
        """Fix foreign use from the snapshot and the ledger, then what is free now."""
        view = self.view
        self.foreign_mib = max(view.foreign_mib, view.used_mib - running_mib, 0)
        self.foreign_sessions = max(
            view.encoder_sessions_foreign, view.encoder_sessions - running_enc, 0
        )
        self.free_mib = self.ever_mib - self.foreign_mib - self.reserved_mib
        self.free_slots = view.slots - self.jobs
        self.free_enc = view.encoder_limit - self.foreign_sessions - self.enc_jobs

    def take(self, need_mib: int, enc: int, ends_in: float) -> None:
        """Reserve for a job admitted now, expected to end in ``ends_in`` seconds."""
        self.reserved_mib += need_mib
        self.jobs += 1
        self.enc_jobs += enc
        self.free_mib -= need_mib
        self.free_slots -= 1
        self.free_enc -= enc
        self.releases.append((ends_in, need_mib, enc))

    def free_at(self, t: float) -> tuple[int, int, int]:
        """Free MiB, slots and encoder sessions at ``t`` (releases by then, holds active)."""
        mib, slots, enc = self.free_mib, self.free_slots, self.free_enc
        for when, r_mib, r_enc in self.releases:
            if when <= t:
                mib += r_mib
                slots += 1
                enc += r_enc
        for hold in self.holds:
            if hold.start <= t < hold.end:
                mib -= hold.need_mib
                slots -= hold.slots
                enc -= hold.enc
        return mib, slots, enc

    def fits_over(self, need_mib: int, enc: int, start: float, end: float) -> bool:
        """Whether a job fits from ``start`` to ``end`` without breaking any hold.

        Free resources only grow over time except where a hold begins, so checking the
        start and every hold start inside the window is enough.
        """
        points = [start]
        points.extend(h.start for h in self.holds if start < h.start < end)
        for t in points:
            mib, slots, free_enc = self.free_at(t)
            if mib < need_mib or slots < 1 or free_enc < enc:
                return False
        return True

    def earliest_start(self, need_mib: int, enc: int, duration: float) -> float | None:
        """The first time a job could start here without breaking a hold, if any."""
        times = sorted({0.0, *(r[0] for r in self.releases), *(h.end for h in self.holds)})
        for t in times:
            if self.fits_over(need_mib, enc, t, t + duration):
                return t
        return None

    @property
    def label(self) -> str:
        return f"{self.view.host}/{self.view.uuid}"


def _serves(view: GpuView, class_name: str) -> bool:
    return view.healthy and not view.draining and class_name in view.classes


def build_states(
    gpus: Sequence[GpuView], live: Sequence[LiveJob], now: datetime, margin_mib: int
) -> dict[str, GpuState]:
    """Every GPU's state from its snapshot and the ledger of queued and running jobs."""
    states = {g.uuid: GpuState(g, margin_mib) for g in gpus}
    running: dict[str, list[int]] = {uuid: [0, 0] for uuid in states}
    for job in live:
        state = states.get(job.gpu_uuid or "")
        if state is None:
            continue
        enc = int(job.uses_encoder)
        state.reserved_mib += job.vram_mib
        state.jobs += 1
        state.enc_jobs += enc
        if job.status == "running":
            running[state.view.uuid][0] += job.vram_mib
            running[state.view.uuid][1] += enc
        state.releases.append((_ends_in(job, now), job.vram_mib, enc))
    for uuid, state in states.items():
        state.settle(*running[uuid])
    return states


def _ends_in(job: LiveJob, now: datetime) -> float:
    """Seconds until a live job is expected to release its reservation."""
    if job.expected_end is None:
        return SOON_S
    left = (job.expected_end - now).total_seconds()
    if left > 0:
        return left
    if job.started_at is None:
        return SOON_S
    estimate = (job.expected_end - job.started_at).total_seconds()
    return max(SOON_S, OVERRUN_SHARE * estimate)


_BY_FREE = attrgetter("free_mib", "view.uuid")  # least free first; ties by GPU, stable


class ClassView:
    """The GPUs serving one class, indexed for fast fit checks and reasons.

    Rebuilt lazily whenever an admission or a hold changes a GPU (``version``); between
    changes, thousands of waiting jobs are answered by a bisect and a comparison each.
    """

    def __init__(self, class_name: str, gpus: list[GpuState], offline: Sequence[GpuView]):
        self.class_name = class_name
        self.gpus = gpus
        self.by_ever = sorted(gpus, key=lambda g: -g.ever_mib)
        self._neg_ever = [-g.ever_mib for g in self.by_ever]
        self.offline = offline
        self.version = -1
        self.by_free: list[GpuState] = []
        self._free_keys: list[int] = []
        self._best_upto: list[GpuState] = []
        self.slot_max: GpuState | None = None  # most free MiB among GPUs with a free slot
        self.enc_max: GpuState | None = None  # ... and a free encoder session
        self.slot_free = -1  # slot_max's free MiB (-1: none), enc_free likewise
        self.enc_free = -1
        self.said: dict[str, str] = {}  # per GPU, its sentence in reasons (this version)

    def refresh(self, version: int) -> None:
        if version == self.version:
            return
        self.version = version
        self.by_free = sorted(self.gpus, key=_BY_FREE)
        self._free_keys = [g.free_mib for g in self.by_free]
        best: list[GpuState] = []
        top: GpuState | None = None
        for g in self.by_ever:
            if top is None or g.free_mib > top.free_mib:
                top = g
            best.append(top)
        self._best_upto = best
        # the last GPUs of ``by_free`` (most free) with a slot, and also an encoder session
        self.slot_max = self.enc_max = None
        for g in reversed(self.by_free):
            if g.free_slots >= 1:
                if self.slot_max is None:
                    self.slot_max = g
                if g.free_enc >= 1:
                    self.enc_max = g
                    break
        self.slot_free = self.slot_max.free_mib if self.slot_max else -1
        self.enc_free = self.enc_max.free_mib if self.enc_max else -1
        self.said = {}

    def candidates(self, need_mib: int) -> list[GpuState]:
        """GPUs with ``need_mib`` free now, least left over first (best fit)."""
        return self.by_free[bisect_left(self._free_keys, need_mib) :]

    def able(self, need_mib: int) -> int:
        """How many GPUs could ever hold ``need_mib`` (the first ones of ``by_ever``)."""
        return bisect_right(self._neg_ever, -need_mib)

    def best_of_able(self, able: int) -> GpuState:
        """Of the GPUs that could ever hold the job, the one with the most free now."""
        return self._best_upto[able - 1]


class Planner:
    """One admission pass over both GPU classes against one shared ledger."""

    def __init__(
        self, capacity: Capacity, live: Sequence[LiveJob], now: datetime, policy: AdmissionPolicy
    ) -> None:
        self.policy = policy
        self.now = now
        self.states = build_states(capacity.gpus, live, now, policy.margin_mib)
        self.version = 0
        self.views = {
            c: ClassView(
                c,
                [s for s in self.states.values() if _serves(s.view, c)],
                [g for g in capacity.offline_gpus if c in g.classes]
                + [g for g in capacity.gpus if c in g.classes and not _serves(g, c)],
            )
            for c in GPU_CLASSES
        }
        self.heads_left = dict.fromkeys(GPU_CLASSES, 1 if policy.reserve_head else 0)
        self.fifo_blocker: dict[str, PendingJob] = {}
        self.admitted: list[Placement] = []
        self.waiting: list[Waiting] = []

    # ---- the pass ------------------------------------------------------------------------
    def run(self, pending_by_class: Mapping[str, Sequence[PendingJob]]) -> Plan:
        for class_name, position, job in self._merged(pending_by_class):
            self._consider(class_name, position, job)
        return Plan(tuple(self.admitted), tuple(self.waiting))

    def _merged(
        self, pending_by_class: Mapping[str, Sequence[PendingJob]]
    ) -> Iterator[tuple[str, int, PendingJob]]:
        """Both classes' jobs, each class in its exact order, interleaved by aged priority.

        The merge key of a job is its priority plus one level per ``aging_s`` waited;
        within a class a key never sorts before its predecessor's (an older job of lower
        priority may age past one ahead of it), so each class keeps its exact order.
        """
        streams = [
            (c, list(pending_by_class.get(c, ()))) for c in GPU_CLASSES if pending_by_class.get(c)
        ]
        if len(streams) == 1:
            name, jobs = streams[0]
            for position, job in enumerate(jobs, start=1):
                yield name, position, job
            return
        if not streams:
            return
        keys = [self._aged_keys(jobs) for _, jobs in streams]
        (name_a, jobs_a), (name_b, jobs_b) = streams
        keys_a, keys_b = keys
        i = j = 0
        while i < len(jobs_a) and j < len(jobs_b):
            if keys_a[i] <= keys_b[j]:
                yield name_a, i + 1, jobs_a[i]
                i += 1
            else:
                yield name_b, j + 1, jobs_b[j]
                j += 1
        for k in range(i, len(jobs_a)):
            yield name_a, k + 1, jobs_a[k]
        for k in range(j, len(jobs_b)):
            yield name_b, k + 1, jobs_b[k]

    def _aged_keys(self, jobs: Sequence[PendingJob]) -> list[tuple[float, datetime, int]]:
        # Ties (same aged priority and time) go by id: the order the jobs were written in.
        now, aging = self.now, self.policy.aging_s
        keys: list[tuple[float, datetime, int]] = []
        for job in jobs:
            waited = max(0.0, (now - job.created_at).total_seconds())
            key = (-(job.priority + waited / aging), job.created_at, job.id)
            if keys and key < keys[-1]:
                key = keys[-1]
            keys.append(key)
        return keys

    def _consider(self, class_name: str, position: int, job: PendingJob) -> None:
        if job.held or job.paused or job.not_before is not None:
            blocked = blocked_reason(job, self.now)
            if blocked is not None:
                self.waiting.append(Waiting(job.id, position, *blocked))
                return
        view = self.views[class_name]
        if not view.gpus:
            self.waiting.append(self._no_workers(job, position, view))
            return
        if view.version != self.version:
            view.refresh(self.version)
        need = job.vram_required
        able = view.able(need)
        if able == 0:
            self.waiting.append(self._cannot_hold(job, position, view))
            return
        blocker = self.fifo_blocker.get(class_name)
        if blocker is not None:
            self.waiting.append(self._behind(job, position, class_name, blocker))
            return
        enc = int(job.uses_encoder)
        duration = max(SOON_S, job.expected_s)
        if (view.enc_free if enc else view.slot_free) >= need:
            for gpu in view.candidates(need):
                if (
                    gpu.free_slots >= 1
                    and gpu.free_enc >= enc
                    and gpu.fits_over(need, enc, 0.0, duration)
                ):
                    self._admit(job, gpu, enc, duration)
                    return
        if not self.policy.backfill:
            self.fifo_blocker[class_name] = job
        hold = None
        if self.heads_left[class_name] > 0 and self.policy.backfill:
            hold = self._hold_for_head(class_name, job, view, enc, duration)
        self.waiting.append(self._why_waiting(job, position, view, able, hold))

    def _admit(self, job: PendingJob, gpu: GpuState, enc: int, duration: float) -> None:
        gpu.take(job.vram_required, enc, duration)
        self.version += 1
        self.admitted.append(Placement(job.id, gpu.view.uuid, gpu.view.host))

    def _hold_for_head(
        self, class_name: str, job: PendingJob, view: ClassView, enc: int, duration: float
    ) -> Hold | None:
        """Give a class's first blocked job a hold on the GPU that will have room soonest."""
        best: tuple[float, int, str] | None = None
        target: GpuState | None = None
        for gpu in view.by_ever[: view.able(job.vram_required)]:
            start = gpu.earliest_start(job.vram_required, enc, duration)
            if start is None:
                continue
            left = gpu.free_at(start)[0] - job.vram_required
            key = (start, left, gpu.view.uuid)
            if best is None or key < best:
                best, target = key, gpu
        if best is None or target is None:
            return None
        start = best[0]
        hold = Hold(job.id, class_name, job.vram_required, start, start + duration, 1, enc)
        target.holds.append(hold)
        self.heads_left[class_name] -= 1
        self.version += 1
        return hold

    # ---- reasons -------------------------------------------------------------------------
    def _no_workers(self, job: PendingJob, position: int, view: ClassView) -> Waiting:
        margin = self.policy.margin_mib
        if view.offline and all(g.total_mib - margin < job.vram_required for g in view.offline):
            largest = max(view.offline, key=lambda g: g.total_mib)
            return Waiting(
                job.id,
                position,
                "NEVER_FITS",
                f"NEVER_FITS: needs {job.vram_required} MiB; the largest GPU registered for "
                f"{view.class_name}, {largest.host}/{largest.uuid} (offline), has "
                f"{largest.total_mib} MiB ({margin} MiB safety margin)"
                + never_fits_hint(job.vram_required + margin),
            )
        reason = f"NO_WORKERS: no live GPU serves class {view.class_name}"
        if view.offline:
            reason += f" ({len(view.offline)} registered GPU(s) offline, lost or draining)"
        return Waiting(job.id, position, "NO_WORKERS", reason + no_gpu_hint(view.class_name))

    def _cannot_hold(self, job: PendingJob, position: int, view: ClassView) -> Waiting:
        need, margin = job.vram_required, self.policy.margin_mib
        away = [g for g in view.offline if g.total_mib - margin >= need]
        if away:
            g = away[0]
            return Waiting(
                job.id,
                position,
                "NO_WORKERS",
                f"NO_WORKERS: needs {need} MiB; only offline GPUs could hold it "
                f"({g.host}/{g.uuid} has {g.total_mib} MiB); bring {g.host} back, or lower "
                "vramRequired",
            )
        largest = view.by_ever[0]
        return Waiting(
            job.id,
            position,
            "NEVER_FITS",
            f"NEVER_FITS: needs {need} MiB; the largest GPU serving {view.class_name}, "
            f"{largest.label}, has {largest.view.total_mib} MiB ({margin} MiB safety margin)"
            + never_fits_hint(need + margin),
        )

    def _behind(
        self, job: PendingJob, position: int, class_name: str, blocker: PendingJob
    ) -> Waiting:
        return Waiting(
            job.id,
            position,
            "PRIORITY",
            f"PRIORITY: waits behind job {blocker.id} ({blocker.vram_required} MiB), "
            f"first in {class_name} (strict order)",
        )

    def _why_waiting(
        self, job: PendingJob, position: int, view: ClassView, able: int, hold: Hold | None
    ) -> Waiting:
        """The binding constraint, with numbers; a head also says which GPU it holds."""
        need = job.vram_required
        if view.version != self.version:
            view.refresh(self.version)
        best = view.best_of_able(able)
        if need > best.free_mib:
            code, reason = "RESOURCES_VRAM", self._vram_sentence(need, best, view)
        elif view.slot_max is None or need > view.slot_free:
            # ``best`` has the memory; had it a free slot, slot_max would too.
            code = "SLOTS_BUSY"
            reason = (
                f"SLOTS_BUSY: needs {need} MiB; the GPUs with room have all their job "
                f"slots busy ({best.label}: {best.jobs} of {best.view.slots})"
            )
        elif job.uses_encoder and (view.enc_max is None or need > view.enc_free):
            g = view.slot_max
            code = "NVENC_SESSIONS"
            reason = (
                f"NVENC_SESSIONS: needs an encoder session; the GPUs with room have none "
                f"free ({g.label}: {g.enc_jobs} ours, {g.foreign_sessions} other, "
                f"limit {g.view.encoder_limit})"
            )
        else:
            return self._draining_for(job, position, view)
        if hold is not None:
            target = next(g for g in view.gpus if hold in g.holds)
            reason += f"; first in {view.class_name}: {target.label} is held for it"
        return Waiting(job.id, position, code, reason)

    def _vram_sentence(self, need: int, gpu: GpuState, view: ClassView | None = None) -> str:
        said = view.said.get(gpu.view.uuid) if view is not None else None
        if said is None:
            # The GPU's half of the sentence only changes with the version: thousands of
            # waiting jobs share it.
            jobs = gpu.jobs
            said = (
                f"best GPU {gpu.label} has {max(0, gpu.free_mib)} MiB available "
                f"({gpu.reserved_mib} reserved by {jobs} job{'s' if jobs != 1 else ''}, "
                f"{gpu.foreign_mib} used by other processes, {self.policy.margin_mib} "
                f"safety margin)"
            )
            if view is not None:
                view.said[gpu.view.uuid] = said
        return f"RESOURCES_VRAM: needs {need} MiB; {said}"

    def _draining_for(self, job: PendingJob, position: int, view: ClassView) -> Waiting:
        """It fits now, but only by delaying a head job's hold."""
        enc = int(job.uses_encoder)
        need = job.vram_required
        for gpu in view.candidates(need):
            if gpu.holds and gpu.free_slots >= 1 and gpu.free_enc >= enc:
                hold = min(gpu.holds, key=lambda h: h.start)
                return Waiting(
                    job.id,
                    position,
                    "DRAINING_FOR",
                    f"DRAINING_FOR: needs {need} MiB; {gpu.label} is being drained for "
                    f"job {hold.job_id} ({hold.need_mib} MiB), first in {hold.class_name}",
                )
        sentence = self._vram_sentence(need, view.best_of_able(view.able(need)))
        return Waiting(job.id, position, "RESOURCES_VRAM", sentence)


def plan_all(
    pending_by_class: Mapping[str, Sequence[PendingJob]],
    live: Sequence[LiveJob],
    capacity: Capacity,
    now: datetime,
    margin_mib: int,
    policy: AdmissionPolicy | None = None,
) -> Plan:
    """Plan every GPU class against one shared ledger (``policy`` defaults to mediaq's)."""
    chosen = replace(policy or AdmissionPolicy(), margin_mib=margin_mib)
    return Planner(capacity, live, now, chosen).run(pending_by_class)


# ---- what unblocks a job (the tail of its waiting reason) ------------------------------------
def no_gpu_hint(class_name: str) -> str:
    """What an operator can do when no live GPU serves the class."""
    return (
        f"; start a worker host with a GPU serving {class_name} (docs/fleet.md), or run the "
        "job on the CPU: cancel it and enqueue it with resourceCategory cpu "
        "(`mediaq enqueue --resource-category cpu`), or set MEDIAQ_CPU_ONLY=true for new jobs"
    )


def never_fits_hint(needed_mib: int) -> str:
    """What an operator can do when no GPU of the class could ever hold the job."""
    return (
        f"; lower its vramRequired, add a GPU with at least {needed_mib} MiB, or run it on the "
        "CPU (resourceCategory cpu)"
    )
