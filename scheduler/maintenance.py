"""Periodic counter work of the active scheduler: view flushes and counter reconciliation.

- ``flush_views`` (every 2 s): drains the Redis view buffer (``mediaq.viewbuffer``) into
  ``public_media.view_count``, one ``UPDATE`` per batch, exactly once per view.
- ``reconcile_counters`` (every 5 min): recomputes ``upvote_count`` and ``comment_count`` from
  the ``upvotes`` and the visible (not hidden) ``comments`` rows, and the gallery totals of
  ``public_media_counts`` from ``public_media``, fixes any drift and reports it. Both write in
  the same transactions as the rows they count, so drift means someone wrote around the API
  (a manual SQL fix, a restore); the reconciliation is the safety net, not the mechanism.

Every multi-row write here locks ``public_media`` rows in id order, the order the admin bulk
lock uses too, so these never deadlock with each other or with the API.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from redis import Redis
from sqlalchemy import Connection, text

from mediaq.db import engine_for
from mediaq.metrics import VIEWS_FLUSHED, count_event
from mediaq.settings import Settings
from mediaq.viewbuffer import ViewBuffer
from scheduler.periodic import periodic

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 2.0
RECONCILE_EVERY_S = 300.0
FLUSH_LEDGER_DAYS = 7


@dataclass(frozen=True)
class FlushReport:
    batches: int
    views: int
    media: int
    replayed: int  # batches found already applied (a flusher died after its commit)


@dataclass(frozen=True)
class ReconcileReport:
    upvote_rows_fixed: int
    upvote_drift: int  # sum of |counter - rows| over the fixed media
    comment_rows_fixed: int
    comment_drift: int
    gallery_totals_fixed: int

    @property
    def clean(self) -> bool:
        return not (self.upvote_rows_fixed or self.comment_rows_fixed or self.gallery_totals_fixed)

    def line(self) -> str:
        return (
            f"upvote_count fixed on {self.upvote_rows_fixed} media (drift {self.upvote_drift}), "
            f"comment_count fixed on {self.comment_rows_fixed} media "
            f"(drift {self.comment_drift}), gallery totals fixed {self.gallery_totals_fixed}"
        )


# ---- views -------------------------------------------------------------------------------
def apply_view_batch(conn: Connection, token: str, counts: dict[int, int]) -> bool:
    """Add one batch's views in the caller's transaction; False if it was applied before."""
    first = conn.execute(
        text(
            "INSERT INTO view_flushes (token, views) VALUES (:t, :v) "
            "ON CONFLICT (token) DO NOTHING RETURNING token"
        ),
        {"t": token, "v": sum(counts.values())},
    ).first()
    if first is None:
        return False
    ids = sorted(counts)
    if not ids:
        return True
    conn.execute(
        text("SELECT id FROM public_media WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"),
        {"ids": ids},
    )
    conn.execute(
        text(
            "UPDATE public_media p "
            "SET view_count = LEAST(p.view_count::bigint + d.n, 2147483647) "
            "FROM unnest(CAST(:ids AS int[]), CAST(:ns AS bigint[])) AS d(id, n) "
            "WHERE p.id = d.id"
        ),
        {"ids": ids, "ns": [counts[i] for i in ids]},
    )
    return True


def drain_views(settings: Settings, redis: Redis) -> FlushReport:
    """Move buffered views into PostgreSQL; every batch in flight is finished or retried."""
    buffer = ViewBuffer(settings.queue_prefix, settings.view_window_s)
    engine = engine_for(settings.database_url)
    batches = buffer.begin_drain(redis, uuid.uuid4().hex)
    views = media = replayed = 0
    for batch_key in batches:
        counts = buffer.read_batch(redis, batch_key)
        with engine.begin() as conn:
            applied = apply_view_batch(conn, buffer.token_of(batch_key), counts)
        buffer.finish_batch(redis, batch_key)
        if applied:
            views += sum(counts.values())
            media += len(counts)
        else:
            replayed += 1
    count_event(settings, VIEWS_FLUSHED, views)
    return FlushReport(batches=len(batches), views=views, media=media, replayed=replayed)


@periodic("flush_views", FLUSH_EVERY_S)
def flush_views(settings: Settings) -> str | None:
    """Periodic entry: drain the view buffer; a line only when something moved."""
    redis = Redis.from_url(settings.redis_url)
    try:
        report = drain_views(settings, redis)
    finally:
        redis.close()
    if not report.batches:
        return None
    return f"{report.views} views on {report.media} media in {report.batches} batches" + (
        f" ({report.replayed} already applied)" if report.replayed else ""
    )


# ---- counters ----------------------------------------------------------------------------
DRIFTED = text(
    """
    SELECT p.id FROM public_media p
      LEFT JOIN (SELECT media_id, count(*) AS n FROM upvotes GROUP BY 1) u ON u.media_id = p.id
      LEFT JOIN (SELECT media_id, count(*) AS n FROM comments WHERE hidden_at IS NULL
                  GROUP BY 1) c ON c.media_id = p.id
     WHERE p.upvote_count <> coalesce(u.n, 0) OR p.comment_count <> coalesce(c.n, 0)
     ORDER BY p.id
    """
)
TRUTH = text(
    """
    SELECT p.id,
           (SELECT count(*) FROM upvotes u WHERE u.media_id = p.id) AS up,
           (SELECT count(*) FROM comments c
             WHERE c.media_id = p.id AND c.hidden_at IS NULL) AS cm
      FROM public_media p WHERE p.id = ANY(:ids)
    """
)


def fix_engagement_counters(conn: Connection, ids: list[int]) -> tuple[int, int, int, int]:
    """Recount upvotes and comments of ``ids`` under row locks; (rows, drift) of each fixed.

    The rows are locked first; the recount is a later statement, so (read committed) it sees
    every upvote committed before the lock, and any upvote still in flight waits for the lock
    before it moves the counter: the written value can never be stale.
    """
    current = {
        row.id: (row.upvote_count, row.comment_count)
        for row in conn.execute(
            text(
                "SELECT id, upvote_count, comment_count FROM public_media "
                "WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"
            ),
            {"ids": ids},
        )
    }
    up_rows = up_drift = cm_rows = cm_drift = 0
    for row in conn.execute(TRUTH, {"ids": sorted(current)}):
        up, cm = current[row.id]
        if up == row.up and cm == row.cm:
            continue
        conn.execute(
            text("UPDATE public_media SET upvote_count = :up, comment_count = :cm WHERE id = :id"),
            {"up": row.up, "cm": row.cm, "id": row.id},
        )
        if up != row.up:
            up_rows += 1
            up_drift += abs(up - row.up)
        if cm != row.cm:
            cm_rows += 1
            cm_drift += abs(cm - row.cm)
    return up_rows, up_drift, cm_rows, cm_drift


GALLERY_TOTALS_DRIFT = text(
    """
    SELECT count(*) FROM (
        SELECT category, coalesce(orientation, '') AS orientation, count(*) AS n
          FROM public_media WHERE NOT is_locked GROUP BY 1, 2
    ) t FULL JOIN public_media_counts c USING (category, orientation)
    WHERE coalesce(t.n, 0) <> coalesce(c.n, 0)
    """
)


def fix_gallery_totals(conn: Connection) -> int:
    """Recompute ``public_media_counts`` if it differs from the rows; keys fixed.

    Rewriting it needs the table still: a SHARE lock on ``public_media`` waits for writers in
    flight and holds new ones back for the few milliseconds of the recount (a lock timeout
    gives up rather than stall the API; the next run tries again).
    """
    if not conn.execute(GALLERY_TOTALS_DRIFT).scalar_one():
        conn.execute(text("DELETE FROM public_media_counts WHERE n = 0"))
        return 0
    conn.execute(text("SET LOCAL lock_timeout = '2s'"))
    conn.execute(text("LOCK TABLE public_media IN SHARE MODE"))
    fixed = int(conn.execute(GALLERY_TOTALS_DRIFT).scalar_one())
    conn.execute(text("DELETE FROM public_media_counts"))
    conn.execute(
        text(
            "INSERT INTO public_media_counts (category, orientation, n) "
            "SELECT category, coalesce(orientation, ''), count(*) FROM public_media "
            "WHERE NOT is_locked GROUP BY 1, 2"
        )
    )
    return fixed


def reconcile(settings: Settings) -> ReconcileReport:
    """Recompute every denormalized counter from its rows and fix what drifted."""
    engine = engine_for(settings.database_url)
    with engine.connect() as conn:
        ids = [row.id for row in conn.execute(DRIFTED)]
        conn.rollback()
    up_rows = up_drift = cm_rows = cm_drift = 0
    if ids:
        with engine.begin() as conn:
            up_rows, up_drift, cm_rows, cm_drift = fix_engagement_counters(conn, ids)
    with engine.begin() as conn:
        totals = fix_gallery_totals(conn)
        conn.execute(
            text("DELETE FROM view_flushes WHERE applied_at < now() - make_interval(days => :d)"),
            {"d": FLUSH_LEDGER_DAYS},
        )
    return ReconcileReport(up_rows, up_drift, cm_rows, cm_drift, totals)


@periodic("reconcile_counters", RECONCILE_EVERY_S)
def reconcile_counters(settings: Settings) -> str | None:
    """Periodic entry: reconcile, and report only when drift was found and fixed."""
    report = reconcile(settings)
    if report.clean:
        return None
    log.warning("counter drift fixed: %s", report.line())
    return report.line()
