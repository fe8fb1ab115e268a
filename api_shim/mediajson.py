"""The JSON shapes of the media endpoints, as the seed prints them, built by PostgreSQL.

The gallery and media endpoints ask PostgreSQL for the finished JSON text (``json_build_object``
in the seed's key order, timestamps already in the seed's ``2026-01-15T10:00:00.000Z`` form),
so a request costs one statement and no per-row work in Python.
"""

from __future__ import annotations


def iso_sql(column: str) -> str:
    """SQL for a timestamptz column as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (NULL stays NULL)."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


def json_object_sql(fields: list[tuple[str, str]]) -> str:
    """``json_build_object('key', expr, ...)`` keeping the given key order."""
    return "json_build_object(" + ", ".join(f"'{key}', {expr}" for key, expr in fields) + ")"


# GET /api/media/public: one item of "videos" (exactly the seed's 12 keys).
GALLERY_ITEM_FIELDS = [
    ("id", "id"),
    ("filename", "filename"),
    ("category", "category"),
    ("durationSeconds", "duration_seconds"),
    ("quality", "quality"),
    ("orientation", "orientation"),
    ("thumbnailPath", "thumbnail_path"),
    ("viewCount", "view_count"),
    ("upvoteCount", "upvote_count"),
    ("commentCount", "comment_count"),
    ("isLocked", "is_locked"),
    ("createdAt", iso_sql("created_at")),
]

# GET /api/media/public/:id (exactly the seed's 17 keys).
MEDIA_DETAIL_FIELDS = [
    ("id", "id"),
    ("path", "path"),
    ("filename", "filename"),
    ("category", "category"),
    ("durationSeconds", "duration_seconds"),
    ("quality", "quality"),
    ("orientation", "orientation"),
    ("thumbnailPath", "thumbnail_path"),
    ("fileSize", "file_size"),
    ("viewCount", "view_count"),
    ("upvoteCount", "upvote_count"),
    ("commentCount", "comment_count"),
    ("finishCount", "finish_count"),
    ("totalWatchTime", "total_watch_time"),
    ("isLocked", "is_locked"),
    ("createdAt", iso_sql("created_at")),
    ("updatedAt", iso_sql("updated_at")),
]

# The admin view of public media adds the lock details.
ADMIN_MEDIA_FIELDS = [
    *MEDIA_DETAIL_FIELDS,
    ("lockedAt", iso_sql("locked_at")),
    ("lockedReason", "locked_reason"),
]

GALLERY_ITEM_JSON = json_object_sql(GALLERY_ITEM_FIELDS)
MEDIA_DETAIL_JSON = json_object_sql(MEDIA_DETAIL_FIELDS)
ADMIN_MEDIA_JSON = json_object_sql(ADMIN_MEDIA_FIELDS)
