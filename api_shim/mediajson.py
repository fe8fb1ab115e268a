"""The JSON shapes of the media endpoints, as the seed prints them, built by PostgreSQL.

The gallery and media endpoints ask PostgreSQL for the finished JSON text (``json_build_object``
in the seed's key order, timestamps already in the seed's ``2026-01-15T10:00:00.000Z`` form),
so a request costs one statement and no per-row work in Python.

Each shape is declared once, as ``(key, SQL expression, Python type)`` triples: the same list
gives the ``json_build_object`` pairs and the pydantic model whose schema ``/openapi.json``
shows for it (``JsonShape``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

Field3 = tuple[str, str, Any]  # (JSON key, SQL expression, Python type of the value)


@dataclass(frozen=True)
class JsonShape:
    """A JSON object built by PostgreSQL, and its model (every key present, no other)."""

    name: str
    fields: tuple[Field3, ...]
    model: type[BaseModel] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        columns: Any = {key: (kind, ...) for key, _, kind in self.fields}
        model = create_model(self.name, __config__=ConfigDict(extra="forbid"), **columns)
        object.__setattr__(self, "model", model)

    @property
    def sql(self) -> str:
        return json_object_sql([(key, expr) for key, expr, _ in self.fields])

    def extended(self, name: str, *more: Field3) -> JsonShape:
        return JsonShape(name, (*self.fields, *more))


def iso_sql(column: str) -> str:
    """SQL for a timestamptz column as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (NULL stays NULL)."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


def json_object_sql(fields: list[tuple[str, str]]) -> str:
    """``json_build_object('key', expr, ...)`` keeping the given key order."""
    return "json_build_object(" + ", ".join(f"'{key}', {expr}" for key, expr in fields) + ")"


def library_path_sql(column: str, root: str) -> str:
    """SQL for the seed's library-relative form of a stored path: ``/public/x/y.mp4``.

    ``%(<root>_dir)s`` is the resolved root with a trailing slash
    (``LibraryFiles.sql_params``); a path outside that root becomes NULL, so no statement can
    hand out a server path.
    """
    return (
        f"CASE WHEN starts_with({column}, %({root}_dir)s) "
        f"THEN '/{root}/' || substr({column}, char_length(%({root}_dir)s) + 1) END"
    )


MEDIA_URL = "'/api/media/public/' || id"
STREAM_URL_SQL = f"{MEDIA_URL} || '/stream'"
THUMBNAIL_URL_SQL = f"CASE WHEN thumbnail_path IS NOT NULL THEN {MEDIA_URL} || '/thumbnail' END"
STORYBOARD_URL_SQL = (
    f"CASE WHEN storyboard_path IS NOT NULL THEN {MEDIA_URL} || '/storyboard.vtt' END"
)
PUBLIC_PATH_SQL = library_path_sql("path", "public")
THUMBNAIL_PATH_SQL = library_path_sql("thumbnail_path", "thumbnails")

Time = str | None  # timestamps come as the seed's ISO text
NInt = int | None
NStr = str | None

# Every key a public_media shape may have: its SQL expression and its type, declared once.
PUBLIC_MEDIA_FIELDS: dict[str, tuple[str, Any]] = {
    "id": ("id", int),
    "path": (PUBLIC_PATH_SQL, NStr),
    "filename": ("filename", str),
    "category": ("category", str),
    "durationSeconds": ("duration_seconds", NInt),
    "quality": ("quality", NStr),
    "orientation": ("orientation", NStr),
    "thumbnailPath": (THUMBNAIL_PATH_SQL, NStr),
    "fileSize": ("file_size", NInt),
    "viewCount": ("view_count", int),
    "upvoteCount": ("upvote_count", int),
    "commentCount": ("comment_count", int),
    "finishCount": ("finish_count", int),
    "totalWatchTime": ("total_watch_time", int),
    "isLocked": ("is_locked", bool),
    "createdAt": (iso_sql("created_at"), Time),
    "updatedAt": (iso_sql("updated_at"), Time),
    "streamUrl": (STREAM_URL_SQL, str),
    "thumbnailUrl": (THUMBNAIL_URL_SQL, NStr),
    "storyboardUrl": (STORYBOARD_URL_SQL, NStr),
    "lockedAt": (iso_sql("locked_at"), Time),
    "lockedReason": ("locked_reason", NStr),
}


def media_shape(name: str, keys: str) -> JsonShape:
    """The shape of these ``PUBLIC_MEDIA_FIELDS`` keys (space-separated), in this order."""
    return JsonShape(name, tuple((k, *PUBLIC_MEDIA_FIELDS[k]) for k in keys.split()))


# GET /api/media/public: one item of "videos" (the seed's 12 keys, then the two URLs).
GALLERY_ITEM = media_shape(
    "GalleryItem",
    "id filename category durationSeconds quality orientation thumbnailPath viewCount"
    " upvoteCount commentCount isLocked createdAt streamUrl thumbnailUrl",
)

# GET /api/media/public/:id (the seed's 17 keys, then the URLs of its files).
MEDIA_DETAIL_KEYS = (
    "id path filename category durationSeconds quality orientation thumbnailPath fileSize"
    " viewCount upvoteCount commentCount finishCount totalWatchTime isLocked createdAt"
    " updatedAt streamUrl thumbnailUrl storyboardUrl"
)
MEDIA_DETAIL = media_shape("Media", MEDIA_DETAIL_KEYS)

# The admin view of public media adds the lock details.
ADMIN_MEDIA = media_shape("AdminMedia", MEDIA_DETAIL_KEYS + " lockedAt lockedReason")

GALLERY_ITEM_JSON = GALLERY_ITEM.sql
MEDIA_DETAIL_JSON = MEDIA_DETAIL.sql
ADMIN_MEDIA_JSON = ADMIN_MEDIA.sql
