"""The JSON answers of the API as pydantic models: their schemas are the responses of
``/openapi.json`` (the routes still write their JSON themselves, on the hot paths in SQL).

Shapes PostgreSQL builds come from their one declaration in ``api_shim.mediajson`` (and
``videos_routes``); the job answers from the table columns ``api_shim.serialize`` writes.
Objects list every key they always carry and allow no other, unless they are the engine's
open-ended views (queue overview, schedules), which name the keys they always have.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api_shim.mediajson import ADMIN_MEDIA, GALLERY_ITEM, MEDIA_DETAIL
from api_shim.reactions import Reaction
from api_shim.serialize import ATTEMPT_COLUMNS, JOB_COLUMNS, row_model
from mediaq.models import Job, JobAttempt

Time = str | None


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Error(Answer):
    error: str


class Pagination(Answer):
    total: int
    limit: int
    offset: int
    hasMore: bool


class Health(Answer):
    status: str
    service: str


class ServiceHealth(Answer):
    status: str
    database: str
    redis: str


GalleryItem: Any = GALLERY_ITEM.model
Media: Any = MEDIA_DETAIL.model
AdminMedia: Any = ADMIN_MEDIA.model


class GalleryPage(Answer):
    videos: list[GalleryItem]
    pagination: Pagination


class ViewAnswer(Answer):
    success: bool
    counted: bool
    minPlaySeconds: float


class UpvoteAnswer(Answer):
    success: bool
    upvoted: bool
    upvoteCount: int


class FinishAnswer(Answer):
    success: bool
    counted: bool
    finishCount: int


class WatchAnswer(Answer):
    success: bool
    recorded: int
    totalWatchTime: int


class Comment(Answer):
    id: int
    mediaId: int
    userId: int | None
    authorName: str | None
    content: str
    videoTimestamp: int | None
    formattedTime: str | None
    createdAt: Time
    hidden: bool = Field(False, description="moderation answers and admin lists only")


class CommentPage(Answer):
    comments: list[Comment]
    pagination: Pagination


class CommentAnswer(Answer):
    success: bool
    comment: Comment


class Deleted(Answer):
    success: bool
    id: int


class Reactions(Answer):
    reactions: list[Reaction]


class ReactionAnswer(Answer):
    success: bool
    reaction: Reaction


class ReactionKind(Answer):
    type: str
    emoji: str
    label: str


class ReactionConfig(Answer):
    reactions: list[ReactionKind]


class Heatmap(Answer):
    segments: int
    total: int
    minReactions: int
    curve: list[float] | None


class Locked(Answer):
    success: bool
    locked: list[int]
    notFound: list[int]


class Unlocked(Answer):
    success: bool
    unlocked: list[int]
    notFound: list[int]


class AdminMediaPage(Answer):
    media: list[AdminMedia]
    pagination: Pagination


class AdminMediaAnswer(Answer):
    success: bool
    media: AdminMedia


# ---- the job API ----------------------------------------------------------------------------
Attempt: Any = row_model("Attempt", JobAttempt.__table__, ATTEMPT_COLUMNS)
JobJson: Any = row_model("Job", Job.__table__, JOB_COLUMNS, attempts=(list[Attempt] | None, None))


class JobAnswer(Answer):
    job: JobJson


class Enqueued(Answer):
    jobIds: list[int]
    count: int


class JobPagination(Pagination):
    nextBefore: int | None
    totalCapped: bool = False


class JobPage(Answer):
    jobs: list[JobJson]
    pagination: JobPagination


class PipelineStepJson(Answer):
    id: int
    stepIndex: int
    type: str
    params: Any
    dependsOn: Any
    job: JobJson | None


class PipelineJson(Answer):
    id: int
    name: str
    status: str
    createdAt: Time
    completedAt: Time
    steps: list[PipelineStepJson]


class PipelineAnswer(Answer):
    pipeline: PipelineJson
    jobs: list[JobJson]


class BulkAnswer(Answer):
    action: str
    matched: int
    changed: int


class QueueOverview(Open):
    classes: dict[str, Any]
    hosts: list[dict[str, Any]]


class Pause(Answer):
    resourceCategory: str
    type: str | None
    pausedBy: str | None
    pausedAt: Time


class Pauses(Answer):
    pauses: list[Pause]


class Paused(Answer):
    paused: bool
    pause: Pause
    reason: str


class Resumed(Answer):
    paused: bool
    resourceCategory: str
    type: str | None
    wasPaused: bool


class Schedule(Open):
    name: str
    cron: str | None
    everySeconds: int | None
    timezone: str
    job: dict[str, Any]


class ScheduleRun(Answer):
    slot: Time
    jobId: int | None
    enqueuedAt: Time


class ScheduleAnswer(Answer):
    schedule: Schedule


class ScheduleDetail(Answer):
    schedule: Schedule
    runs: list[ScheduleRun]


class Schedules(Answer):
    schedules: list[Schedule]


class ScheduleDeleted(Answer):
    deleted: str


class Dashboard(QueueOverview):
    generatedAt: Time
    pending: dict[str, list[dict[str, Any]]]
    active: list[dict[str, Any]]


class Document(Open):
    openapi: str
    paths: dict[str, Any]
