"""Request bodies as pydantic models: each one validates the request (unknown keys, types and
bounds, a 400 naming the field) and is the schema ``/openapi.json`` shows for it.

The pattern for a route: declare the body here and name it in the route's ``Endpoint(body=...)``;
the route validates it and hands the handler ``body`` (``api_shim.endpoints``). Keys are
camelCase in JSON and snake_case in Python; values are strict (``"5"`` is not a number).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    create_model,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails
from starlette.requests import Request

from api_shim.errors import ApiError
from api_shim.reactions import REACTIONS
from mediaq.bulk import ACTIONS as BULK_ACTIONS
from mediaq.bulk import MAX_IDS as MAX_BULK_IDS
from mediaq.enqueue import MAX_UNIQUE_KEY, MAX_VRAM_MIB, PRIORITY_MAX, PRIORITY_MIN
from mediaq.jobparams import INT32_MAX
from mediaq.jobtypes import JOB_TYPES, describe_errors
from mediaq.pipelines import MAX_STEPS
from mediaq.schedules import MAX_EVERY_S
from mediaq.schedules import MAX_NAME as MAX_SCHEDULE_NAME
from mediaq.settings import RESOURCE_CLASSES

SESSION_MAX = 128
MAX_COMMENT_CHARS = 2000
MAX_AUTHOR_CHARS = 100
MAX_IDS = 1000  # media ids per bulk lock/unlock
MAX_BULK = 10_000  # jobs per bulk enqueue
MAX_BODY_BYTES = 64 * 1024
MAX_CATEGORY = 100

B = TypeVar("B", bound=BaseModel)

Id = Annotated[int, Field(ge=1, le=INT32_MAX)]
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"


def text(max_length: int, min_length: int = 0, pattern: str = NO_NUL) -> Any:
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=pattern)


SessionId = Annotated[str, text(SESSION_MAX, 1, NOT_BLANK)]
OptionalSessionId = Annotated[str, text(SESSION_MAX)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Body(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class SessionBody(Body):
    session_id: SessionId


class FinishBody(Body):
    session_id: OptionalSessionId | None = None


class WatchTimeBody(Body):
    seconds: Seconds | None = Field(None, description="seconds watched (required unless watchTime)")
    watch_time: Seconds | None = Field(None, description="the seed's name for seconds")
    session_id: OptionalSessionId | None = None

    @model_validator(mode="after")
    def needs_seconds(self) -> WatchTimeBody:
        if self.seconds is None and self.watch_time is None:
            raise ValueError("seconds is required")
        return self


class ViewBody(Body):
    session_id: SessionId
    played_seconds: Seconds


class CommentBody(Body):
    """A comment: ``content`` (or the seed's ``body``); anonymous comments need a session."""

    media_id: Id
    content: Annotated[str, text(MAX_COMMENT_CHARS)] | None = None
    body: Annotated[str, text(MAX_COMMENT_CHARS)] | None = None
    session_id: OptionalSessionId | None = None
    author_name: Annotated[str, text(MAX_AUTHOR_CHARS)] | None = None
    video_timestamp: Annotated[int, Field(ge=0, le=INT32_MAX)] | None = None


class HiddenBody(Body):
    model_config = ConfigDict(json_schema_extra={"required": ["hidden"]})

    hidden: bool = Field(None, validate_default=True)

    @field_validator("hidden", mode="wrap")
    @classmethod
    def true_or_false(cls, value: Any, handler: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError("hidden must be true or false")
        return value


class ReactionBody(Body):
    media_id: Id
    reaction_type: str = Field(json_schema_extra={"enum": list(REACTIONS)})
    video_timestamp: Annotated[int, Field(ge=0, le=INT32_MAX)]

    @field_validator("reaction_type")
    @classmethod
    def known(cls, value: str) -> str:
        if value not in REACTIONS:
            raise ValueError("Invalid reaction type")
        return value


class PauseBody(Body):
    """Pause or resume a class, or one job type of it."""

    type: str | None = Field(None, json_schema_extra={"enum": [name for name in sorted(JOB_TYPES)]})

    @field_validator("type")
    @classmethod
    def known_type(cls, value: str | None) -> str | None:
        if value is not None and value not in JOB_TYPES:
            raise ValueError(f"type must be a job type, not {value!r}")
        return value


class MediaIdsBody(Body):
    ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_IDS)]
    reason: Annotated[str, text(500)] | None = None


class JobOptions(Body):
    """What every job body may set beside its type and params."""

    priority: Annotated[int, Field(ge=PRIORITY_MIN, le=PRIORITY_MAX)] = 5
    resource_category: Literal[RESOURCE_CLASSES] | None = None  # type: ignore[valid-type]
    vram_required: Annotated[int, Field(ge=0, le=MAX_VRAM_MIB)] | None = None
    max_attempts: Annotated[int, Field(ge=1, le=100)] | None = None
    unique_key: Annotated[str, text(MAX_UNIQUE_KEY, 1)] | None = None


class StepOptions(Body):
    priority: Annotated[int, Field(ge=PRIORITY_MIN, le=PRIORITY_MAX)] = 5
    resource_category: Literal[RESOURCE_CLASSES] | None = None  # type: ignore[valid-type]
    vram_required: Annotated[int, Field(ge=0, le=MAX_VRAM_MIB)] | None = None
    depends_on: list[Annotated[int, Field(ge=0, lt=MAX_STEPS)]] = Field(
        default_factory=list, description="indexes of earlier steps"
    )


def _per_type(base: type[Body], suffix: str) -> Any:
    """One model per job type (``type`` a constant, ``params`` its model), as a union
    discriminated on ``type``."""
    members = []
    for name, kind in JOB_TYPES.items():
        required = any(f.is_required() for f in kind.params.model_fields.values())
        params_field: Any = (kind.params, ...) if required else (kind.params | None, None)
        members.append(
            create_model(
                f"{suffix}_{name}",
                __base__=base,
                type=(Literal[name], ...),  # type: ignore[arg-type]
                params=params_field,
            )
        )
    return Annotated[_union(members), Field(discriminator="type")]


def _union(members: Sequence[type[BaseModel]]) -> Any:
    union: Any = members[0]
    for member in members[1:]:
        union = union | member
    return union


if TYPE_CHECKING:
    JobBody = Any
    StepBody = Any
else:
    JobBody = _per_type(JobOptions, "Job")
    StepBody = _per_type(StepOptions, "Step")


class JobsBody(Body):
    jobs: Annotated[list[JobBody], Field(min_length=1, max_length=MAX_BULK)]


class PipelineBody(Body):
    name: Annotated[str, text(200, 1, NOT_BLANK)]
    steps: Annotated[list[StepBody], Field(min_length=1, max_length=MAX_STEPS)]


JOB_BODY = TypeAdapter(JobBody)
# POST /api/jobs: one job, or {jobs: [...]} (told apart by the "jobs" key)
ENQUEUE_BODY = TypeAdapter(JobsBody | JobBody)


class ScheduleBody(Body):
    """A schedule; ``mediaq.schedules.parse_spec`` then checks the rule and the job."""

    name: Annotated[str, text(MAX_SCHEDULE_NAME, 1, NOT_BLANK)]
    cron: Annotated[str, text(200)] | None = Field(
        None, description="5 fields: minute hour day month weekday"
    )
    every_seconds: Annotated[int, Field(ge=1, le=MAX_EVERY_S)] | None = None
    timezone: Annotated[str, text(100)] | None = Field(None, description="default UTC")
    job: JobBody


class BulkFilter(Body):
    status: Annotated[str, text(20)] | None = None
    type: Annotated[str, text(100)] | None = None
    resource_category: Annotated[str, text(20)] | None = None
    created_before: Annotated[str, text(64)] | None = Field(None, description="ISO-8601 time")
    created_after: Annotated[str, text(64)] | None = Field(None, description="ISO-8601 time")
    needle: Annotated[str, text(200)] | None = Field(None, alias="text")


class BulkBody(Body):
    """``ids`` or ``filter``, exactly one."""

    action: Literal[tuple(BULK_ACTIONS)]  # type: ignore[valid-type]
    ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_BULK_IDS)] | None = None
    filter: BulkFilter | None = None

    @field_validator("ids", mode="wrap")
    @classmethod
    def job_ids(cls, value: Any, handler: Any) -> Any:
        if isinstance(value, list) and len(value) > MAX_BULK_IDS:
            raise ValueError(f"at most {MAX_BULK_IDS} ids per call; use a filter for more")
        try:
            return handler(value)
        except PydanticValidationError:
            raise ValueError("ids must be positive integers (1 or more)") from None

    @model_validator(mode="after")
    def one_selection(self) -> BulkBody:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give exactly one of ids or filter")
        return self


class CategoryBody(Body):
    category: Annotated[str, text(MAX_CATEGORY, 1, NOT_BLANK)]


# ---- validation ---------------------------------------------------------------------------
def validate(model: Any, data: Any) -> Any:
    """``data`` as ``model`` (a model class or a TypeAdapter), or ApiError(400) naming fields."""
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ApiError.bad_request(_message(exc)) from None


def _message(exc: PydanticValidationError) -> str:
    errors = exc.errors(include_url=False)
    for error in errors:
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            where = ".".join(str(x) for x in error["loc"])
            known = ", ".join(sorted(JOB_TYPES))
            return f"{where + '.' if where else ''}type must be one of: {known}"
    # a discriminated member's location starts with its tag: drop it
    cleaned = []
    for error in errors:
        loc = tuple(x for x in error["loc"] if not (isinstance(x, str) and x in JOB_TYPES))
        cleaned.append({**error, "loc": loc})
    return describe_errors(cast(list[ErrorDetails], cleaned))


async def read_body(request: Request, model: type[B], max_bytes: int = MAX_BODY_BYTES) -> B:
    """The request's JSON body as ``model``; 400 naming each bad field, 413 when too big."""
    result: B = validate(model, await json_body(request, max_bytes))
    return result


async def json_body(request: Request, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request's JSON object body, size-limited (an empty body is ``{}``)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > max_bytes
        except ValueError:
            raise ApiError.bad_request("invalid Content-Length") from None
        if too_big:
            raise ApiError.too_large(f"request body must be at most {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ApiError.too_large(f"request body must be at most {max_bytes} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError.bad_request("body must be valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError.bad_request("body must be a JSON object")
    return body
