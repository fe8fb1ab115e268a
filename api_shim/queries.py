"""Query and path parameters as pydantic models: one declaration gives the validation (a 400
naming the parameter) and the parameters ``/openapi.json`` lists for the route.

Values arrive as text: an integer must be written as one (``-?[0-9]+``; ``1.0``, ``+1`` or
``1_0`` are refused), an empty text or choice means "not given", and a page size above its
cap reads as the cap (``limit=1000`` is 100), as the seed does.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from api_shim.bodies import SESSION_MAX, text
from api_shim.gallery import DEFAULT_LIMIT, DEFAULT_SORT, MAX_LIMIT, SORTS
from mediaq.jobparams import INT32_MAX
from mediaq.jobstates import JobStatus
from mediaq.jobtypes import JOB_TYPES
from mediaq.models import DIRECTORY_TYPES
from mediaq.settings import RESOURCE_CLASSES

INTEGER = re.compile(r"-?[0-9]{1,20}")


def _integer_text(value: Any) -> Any:
    """``"42"`` as 42; anything else is left for the strict integer check to refuse."""
    if isinstance(value, str) and INTEGER.fullmatch(value):
        return int(value)
    return value


def page_size(cap: int = MAX_LIMIT) -> Any:
    """A page size: at least 1; above ``cap`` it reads as ``cap``."""
    return Annotated[
        int,
        Field(ge=1, le=INT32_MAX, description=f"page size (values above {cap} read as {cap})"),
        BeforeValidator(_integer_text),
        AfterValidator(lambda value: min(value, cap)),
    ]


def choice(*values: str) -> Any:
    return Literal[values]


# (the bounds before the validator, so the schema shows them as minimum and maximum)
Id = Annotated[int, Field(ge=1, le=INT32_MAX), BeforeValidator(_integer_text)]
Offset = Annotated[int, Field(ge=0, le=INT32_MAX), BeforeValidator(_integer_text)]
Flag = Literal["true", "false"]


def _holds_integer(annotation: Any) -> bool:
    if annotation is int:
        return True
    return any(_holds_integer(arg) for arg in get_args(annotation))


class Params(BaseModel):
    """Base of every query and path model: camelCase names, strict types, unknown names ignored."""

    model_config = ConfigDict(
        extra="ignore", strict=True, alias_generator=to_camel, populate_by_name=True, frozen=True
    )
    BLANK_IS_ABSENT: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # every text or choice parameter: "" means not given (integers stay strict)
        cls.BLANK_IS_ABSENT = frozenset(
            field.alias or name
            for name, field in cls.model_fields.items()
            if not _holds_integer(field.annotation)
        )

    @model_validator(mode="before")
    @classmethod
    def _drop_blank(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (v == "" and k in cls.BLANK_IS_ABSENT)}
        return data


# ---- path parameters ----------------------------------------------------------------------
class IdPath(Params):
    id: Id


class ClassPath(Params):
    class_: choice(*RESOURCE_CLASSES) = Field(alias="class")  # type: ignore[valid-type]


class NamePath(Params):
    name: Annotated[str, text(200, 1)]


class SheetPath(Params):
    id: Id
    name: Annotated[str, Field(min_length=1, max_length=255)]  # any other name is a 404


# ---- query parameters ---------------------------------------------------------------------
class Page(Params):
    limit: page_size() = 50  # type: ignore[valid-type]
    offset: Offset = 0


class GalleryQuery(Params):
    category: Annotated[str, text(100)] | None = None
    search: Annotated[str, text(200)] | None = Field(None, description="filename/path, literal")
    sort: choice(*SORTS) = DEFAULT_SORT  # type: ignore[valid-type]
    orientation: Annotated[str, text(50)] | None = None
    limit: page_size() = DEFAULT_LIMIT  # type: ignore[valid-type]
    offset: Offset = 0


class MediaQuery(Params):
    session_id: Annotated[str, text(SESSION_MAX)] | None = None
    count_view: Flag | None = Field(
        None, description="false: do not count a view (the player reports it after playing)"
    )


class SessionQuery(Params):
    session_id: Annotated[str, text(SESSION_MAX)] | None = None


class CommentsQuery(Page):
    media_id: Id
    include_hidden: Flag | None = Field(
        None, description="admin only: hidden comments too, each with `hidden`"
    )


class ReactionsQuery(Page):
    media_id: Id | None = None
    user_id: Offset | None = None


class HeatmapQuery(Params):
    media_id: Id


class VideosQuery(Page):
    search: Annotated[str, text(200)] | None = Field(None, description="title or filename")
    directory_type: choice(*DIRECTORY_TYPES) | None = None  # type: ignore[valid-type]


class LibraryQuery(VideosQuery):
    limit: page_size() = 48  # type: ignore[valid-type]


class AdminMediaQuery(Page):
    locked: Flag | None = None
    category: Annotated[str, text(100)] | None = None


class JobsQuery(Page):
    status: choice(*(s.value for s in JobStatus)) | None = None  # type: ignore[valid-type]
    type: choice(*sorted(JOB_TYPES)) | None = None  # type: ignore[valid-type]
    resource_category: choice(*RESOURCE_CLASSES) | None = None  # type: ignore[valid-type]
    q: Annotated[str, text(200)] | None = Field(None, description="text in the params")
    before: Id | None = Field(None, description="keyset: ids below")
