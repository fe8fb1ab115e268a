"""SQLAlchemy 2 models of every table (SPEC §2), with the seed's column names.

The database keeps the invariants: unique constraints, check constraints on
statuses and counters, and the ``jobs`` row itself is the ledger of GPU
reservations (a queued or running job with ``assigned_gpu`` holds
``vram_required`` MiB on that GPU).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mediaq.jobstates import TERMINAL, JobStatus

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TZ = DateTime(timezone=True)

# The seed's directory types (``videos.directory_type``).
DIRECTORY_TYPES = (
    "studios",
    "gifs",
    "private",
    "inbox",
    "curated",
    "playback",
    "compilations",
    "videos",
    "highlights",
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Video(Base):
    __tablename__ = "videos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    filename: Mapped[str] = mapped_column(Text)
    producer: Mapped[str | None] = mapped_column(Text)
    creator: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    quality: Mapped[str | None] = mapped_column(Text)
    orientation: Mapped[str | None] = mapped_column(Text)
    has_audio: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    file_hash: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    last_validated: Mapped[datetime | None] = mapped_column(TZ)
    is_valid: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))
    thumbnail_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = mapped_column(TZ, server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(TZ, server_default=func.now())
    tags: Mapped[list[str] | None] = mapped_column(JSONB)
    directory_type: Mapped[str | None] = mapped_column(Text)
    public_view_count: Mapped[int | None] = mapped_column(Integer)
    public_upvote_count: Mapped[int | None] = mapped_column(Integer)
    public_comment_count: Mapped[int | None] = mapped_column(Integer)
    public_completion_count: Mapped[int | None] = mapped_column(Integer)
    public_total_watch_time: Mapped[int | None] = mapped_column(Integer)
    moved_from_public_at: Mapped[datetime | None] = mapped_column(TZ)
    original_filename: Mapped[str | None] = mapped_column(Text)
    original_path: Mapped[str | None] = mapped_column(Text)
    standardized_at: Mapped[datetime | None] = mapped_column(TZ)
    # mtime of the file when it was last hashed: a rescan of an unchanged file hashes nothing
    file_mtime_ns: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("idx_orientation", "orientation"),
        Index("idx_producer", "producer"),
        Index("idx_is_valid", "is_valid"),
        Index("idx_directory_type", "directory_type"),
        Index("idx_videos_fingerprint", "duration_seconds", "file_size", "width", "height"),
        Index(
            "idx_videos_directory_valid_orientation", "directory_type", "is_valid", "orientation"
        ),
        Index("idx_videos_file_hash", "file_hash"),
    )


# (index name suffix, category first?, sort columns) of the gallery indexes (migration 0002).
GALLERY_SORT_INDEXES = (
    ("recent", False, ("created_at DESC", "id DESC")),
    ("popular", False, ("upvote_count DESC", "created_at DESC", "id DESC")),
    ("viewed", False, ("view_count DESC", "created_at DESC", "id DESC")),
    ("cat_recent", True, ("created_at DESC", "id DESC")),
    ("cat_popular", True, ("upvote_count DESC", "created_at DESC", "id DESC")),
    ("cat_viewed", True, ("view_count DESC", "created_at DESC", "id DESC")),
)


class PublicMedia(Base):
    __tablename__ = "public_media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    filename: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    quality: Mapped[str | None] = mapped_column(Text)
    orientation: Mapped[str | None] = mapped_column(Text)
    thumbnail_path: Mapped[str | None] = mapped_column(Text)
    storyboard_path: Mapped[str | None] = mapped_column(Text)  # WebVTT track (0007)
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    view_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    upvote_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    comment_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    finish_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    total_watch_time: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    is_locked: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    locked_at: Mapped[datetime | None] = mapped_column(TZ)
    locked_reason: Mapped[str | None] = mapped_column(Text)
    video_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())

    __table_args__ = (
        Index("idx_public_media_category", "category"),
        Index("idx_public_media_orientation", "orientation"),
        Index("idx_public_media_views", "view_count"),
        Index("idx_public_media_upvotes", "upvote_count"),
        Index("idx_public_media_locked", "is_locked"),
        # Gallery sorts over unlocked rows, with and without a category (migration 0002).
        *(
            Index(
                f"idx_public_media_gallery_{name}",
                *([text("category")] if by_category else []),
                *[text(col) for col in sort],
                postgresql_where=text("NOT is_locked"),
            )
            for name, by_category, sort in GALLERY_SORT_INDEXES
        ),
        CheckConstraint("upvote_count >= 0", name="upvote_count_nonneg"),
        CheckConstraint("view_count >= 0", name="view_count_nonneg"),
    )


class Upvote(Base):
    __tablename__ = "upvotes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("public_media.id", ondelete="CASCADE")
    )
    session_id: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())

    __table_args__ = (
        UniqueConstraint("media_id", "session_id", name="idx_upvotes_unique"),
        Index("idx_upvotes_media", "media_id"),
    )


class VideoReaction(Base):
    __tablename__ = "video_reactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    media_id: Mapped[int] = mapped_column(Integer)
    reaction_type: Mapped[str] = mapped_column(Text)
    video_timestamp: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())

    __table_args__ = (
        Index("idx_video_reactions_user_media_type", "user_id", "media_id", "reaction_type"),
        Index("idx_video_reactions_media_timestamp", "media_id", "video_timestamp"),
        Index("idx_video_reactions_media", "media_id"),
        Index("idx_video_reactions_created", "created_at"),
        CheckConstraint(
            "reaction_type IN ('like','love','laugh','wow','sad','angry')", name="reaction_type"
        ),
        CheckConstraint("video_timestamp >= 0", name="video_timestamp_nonneg"),
    )


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("public_media.id", ondelete="CASCADE")
    )
    user_id: Mapped[int | None] = mapped_column(Integer)
    session_id: Mapped[str | None] = mapped_column(Text)
    author_name: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    video_timestamp: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    # Set when an admin hides the comment (0005): out of the public list and comment_count.
    hidden_at: Mapped[datetime | None] = mapped_column(TZ)

    __table_args__ = (Index("idx_comments_media_created", "media_id", "created_at"),)


class PublicMediaCount(Base):
    """Unlocked public media per (category, orientation), kept exact by triggers (0002).

    A NULL orientation is counted under ``''``.
    """

    __tablename__ = "public_media_counts"

    category: Mapped[str] = mapped_column(Text, primary_key=True)
    orientation: Mapped[str] = mapped_column(Text, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class ViewFlush(Base):
    """A batch of buffered views already applied (its token), for exactly-once flushes (0002)."""

    __tablename__ = "view_flushes"

    token: Mapped[str] = mapped_column(Text, primary_key=True)
    views: Mapped[int] = mapped_column(BigInteger)
    applied_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())

    __table_args__ = (Index("idx_view_flushes_applied", "applied_at"),)


class Compilation(Base):
    __tablename__ = "compilations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    video_ids: Mapped[list[int] | None] = mapped_column(JSONB)
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime | None] = mapped_column(TZ, server_default=func.now())


class Pipeline(Base):
    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=text("'pending'"))
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(TZ)


class PipelineStep(Base):
    __tablename__ = "pipeline_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("pipelines.id", ondelete="CASCADE")
    )
    step_index: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    depends_on: Mapped[list[int]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))

    __table_args__ = (UniqueConstraint("pipeline_id", "step_index"),)


JOB_STATUSES = ("pending", "queued", "running", "completed", "failed", "cancelled")
FINISHED_STATUSES = tuple(s.value for s in JobStatus if s in TERMINAL)
FINISHED_SQL = "(" + ", ".join(f"'{s}'" for s in FINISHED_STATUSES) + ")"
# While a job is in one of these, its unique key is held (the predicate of idx_jobs_unique_live).
UNIQUE_LIVE_PREDICATE = "unique_key IS NOT NULL AND status IN ('pending', 'queued', 'running')"


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default=text("'pending'"))
    progress: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    log: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime | None] = mapped_column(TZ)
    completed_at: Mapped[datetime | None] = mapped_column(TZ)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    resource_category: Mapped[str] = mapped_column(Text, server_default=text("'cpu'"))
    vram_required: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    queue_position: Mapped[int | None] = mapped_column(Integer)
    waiting_reason: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, server_default=text("5"))
    pipeline_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("pipelines.id", ondelete="SET NULL")
    )
    pipeline_step_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("pipeline_steps.id", ondelete="SET NULL")
    )
    # engine columns (SPEC §2)
    attempt: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    refusals: Mapped[int] = mapped_column(Integer, server_default=text("0"))  # preflight
    max_attempts: Mapped[int] = mapped_column(Integer, server_default=text("3"))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    assigned_host: Mapped[str | None] = mapped_column(Text)
    assigned_gpu: Mapped[str | None] = mapped_column(Text)
    heartbeat_at: Mapped[datetime | None] = mapped_column(TZ)
    not_before: Mapped[datetime | None] = mapped_column(TZ)
    queued_at: Mapped[datetime | None] = mapped_column(TZ)
    waiting_code: Mapped[str | None] = mapped_column(Text)
    depends_on: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    held: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    # while a job with this key is live, enqueueing the key again returns it (0004)
    unique_key: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # Lists by status, newest first, and their keyset pages (0004).
        Index("idx_jobs_status_id", "status", "id"),
        # Retention: the oldest finished jobs of one state first (0004).
        Index(
            "idx_jobs_finished",
            "status",
            "completed_at",
            postgresql_where=text(f"status IN {FINISHED_SQL}"),
        ),
        Index(
            "idx_jobs_unique_live",
            "unique_key",
            unique=True,
            postgresql_where=text(UNIQUE_LIVE_PREDICATE),
        ),
        Index("idx_jobs_resource", "resource_category", "status"),
        Index("idx_jobs_pipeline", "pipeline_id"),
        # The admission scan: pending jobs of one class in exact order, kept small by the
        # partial predicate so finished jobs never slow it down.
        Index(
            "idx_jobs_pending_order",
            "resource_category",
            text("priority DESC"),
            "created_at",
            "id",
            postgresql_where=text("status = 'pending'"),
        ),
        # Pending jobs that carry a position: small (the head window of each class).
        Index(
            "idx_jobs_positioned",
            "resource_category",
            "queue_position",
            postgresql_where=text("status = 'pending' AND queue_position IS NOT NULL"),
        ),
        # The live set: the ledger and the rescue scans.
        Index(
            "idx_jobs_live",
            "status",
            "assigned_gpu",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        CheckConstraint(
            "status IN ('pending','queued','running','completed','failed','cancelled')",
            name="status",
        ),
        CheckConstraint(
            "resource_category IN ('cpu','gpu_encode','gpu_ai')", name="resource_category"
        ),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_range"),
        CheckConstraint("vram_required >= 0", name="vram_nonneg"),
        CheckConstraint("attempt >= 0", name="attempt_nonneg"),
    )


class WorkerHost(Base):
    """A host running ``mediaq worker``: its classes, slots and last heartbeat."""

    __tablename__ = "worker_hosts"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    classes: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    cpu_slots: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    gpu_slots: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    nvenc_sessions: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    draining: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    started_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    last_seen: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class Gpu(Base):
    """One GPU of a worker host, keyed by its NVML UUID, with its latest snapshot."""

    __tablename__ = "gpus"

    uuid: Mapped[str] = mapped_column(Text, primary_key=True)
    host_name: Mapped[str] = mapped_column(
        Text, ForeignKey("worker_hosts.name", ondelete="CASCADE")
    )
    index: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text)
    total_mib: Mapped[int] = mapped_column(Integer)
    free_mib: Mapped[int] = mapped_column(Integer)
    used_mib: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    foreign_mib: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    encoder_sessions: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    encoder_capacity: Mapped[int | None] = mapped_column(Integer)
    healthy: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    last_seen: Mapped[datetime] = mapped_column(TZ, server_default=func.now())

    __table_args__ = (Index("idx_gpus_host", "host_name"),)


class SchedulerState(Base):
    """Key/value facts the scheduler keeps across restarts (e.g. last reconcile time)."""

    __tablename__ = "scheduler_state"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class FleetSetting(Base):
    """Named values the whole fleet shares (``mediaq.fleetconfig``): the library id, CPU-only."""

    __tablename__ = "fleet_settings"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class QueuePause(Base):
    """A paused resource class (``type = ''``) or job type within a class (0004)."""

    __tablename__ = "queue_pauses"

    resource_category: Mapped[str] = mapped_column(Text, primary_key=True)
    type: Mapped[str] = mapped_column(Text, primary_key=True, server_default=text("''"))
    paused_by: Mapped[str] = mapped_column(Text)
    paused_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class Schedule(Base):
    """A recurring job: a 5-field cron expression or a fixed interval (0004)."""

    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    cron: Mapped[str | None] = mapped_column(Text)
    every_seconds: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(Text, server_default=text("'UTC'"))
    job: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    last_slot: Mapped[datetime | None] = mapped_column(TZ)

    __table_args__ = (
        CheckConstraint("(cron IS NULL) <> (every_seconds IS NULL)", name="one_rule"),
        CheckConstraint("every_seconds IS NULL OR every_seconds >= 1", name="every_pos"),
    )


class ScheduleRun(Base):
    """One enqueued slot of a schedule: the key that makes each slot run exactly once."""

    __tablename__ = "schedule_runs"

    schedule_name: Mapped[str] = mapped_column(
        Text, ForeignKey("schedules.name", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[datetime] = mapped_column(TZ, primary_key=True)
    job_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())


class JobAttempt(Base):
    """One attempt of a job, written by the ``jobs_transition`` trigger (0004)."""

    __tablename__ = "job_attempts"

    job_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(TZ, server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(TZ)
    host: Mapped[str | None] = mapped_column(Text)
    gpu: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class JobCount(Base):
    """Finished jobs per (class, type, status), in shard rows; kept by triggers (0004)."""

    __tablename__ = "job_counts"

    resource_category: Mapped[str] = mapped_column(Text, primary_key=True)
    type: Mapped[str] = mapped_column(Text, primary_key=True)
    status: Mapped[str] = mapped_column(Text, primary_key=True)
    shard: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
