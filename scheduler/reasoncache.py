"""What the active scheduler last stored as each pending job's position and reason.

Only one scheduler writes waiting reasons, so it can remember what it wrote and send only
what changed: in a steady backlog almost nothing does, and the refresh costs no write. The
memory is forgotten every ``max_age_s`` (and on taking the lead), after which every reason is
compared in the database again, so a reason changed by another writer (a refused preflight,
an operator's retry) can only be shadowed for that long.

While a backlog drains every position moves on every pass; a change of position alone is
written at most every ``position_every_s`` (a changed code or reason at once), so a long
backlog does not cost hundreds of row writes per second.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from scheduler.model import Waiting


class ReasonCache:
    def __init__(self, max_age_s: float = 30.0, position_every_s: float = 5.0) -> None:
        self.max_age_s = max_age_s
        self.position_every_s = position_every_s
        self._written: dict[int, tuple[int, str, str]] = {}
        self._since = float("-inf")
        self._positions_at = float("-inf")

    def changed(self, waiting: Sequence[Waiting], now: float) -> list[Waiting]:
        """The entries that differ from what was last stored (all of them when stale); an
        entry whose position alone moved only when positions are due again."""
        if now - self._since >= self.max_age_s:
            self._written.clear()
            self._since = now
        positions_due = now - self._positions_at >= self.position_every_s
        if positions_due:
            self._positions_at = now
        out = []
        for w in waiting:
            stored = self._written.get(w.job_id)
            if (
                stored is None
                or stored[1:] != (w.code, w.reason)
                or (positions_due and stored[0] != w.position)
            ):
                out.append(w)
        return out

    def remember(self, waiting: Iterable[Waiting]) -> None:
        for w in waiting:
            self._written[w.job_id] = (w.position, w.code, w.reason)

    def keep_only(self, job_ids: Iterable[int]) -> None:
        """Forget jobs that are no longer pending in the window (admitted, gone, pushed out)."""
        keep = set(job_ids)
        for job_id in [j for j in self._written if j not in keep]:
            del self._written[job_id]

    def forget(self) -> None:
        self._written.clear()
        self._since = float("-inf")
