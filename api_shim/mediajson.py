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

# GET /api/media/public: one item of "videos" (the seed's 12 keys, then the two URLs).
GALLERY_ITEM_FIELDS = [
    ("id", "id"),
    ("filename", "filename"),
    ("category", "category"),
    ("durationSeconds", "duration_seconds"),
    ("quality", "quality"),
    ("orientation", "orientation"),
    ("thumbnailPath", THUMBNAIL_PATH_SQL),
    ("viewCount", "view_count"),
    ("upvoteCount", "upvote_count"),
    ("commentCount", "comment_count"),
    ("isLocked", "is_locked"),
    ("createdAt", iso_sql("created_at")),
    ("streamUrl", STREAM_URL_SQL),
    ("thumbnailUrl", THUMBNAIL_URL_SQL),
]

# GET /api/media/public/:id (the seed's 17 keys, then the URLs of its files).
MEDIA_DETAIL_FIELDS = [
    ("id", "id"),
    ("path", PUBLIC_PATH_SQL),
    ("filename", "filename"),
    ("category", "category"),
    ("durationSeconds", "duration_seconds"),
    ("quality", "quality"),
    ("orientation", "orientation"),
    ("thumbnailPath", THUMBNAIL_PATH_SQL),
    ("fileSize", "file_size"),
    ("viewCount", "view_count"),
    ("upvoteCount", "upvote_count"),
    ("commentCount", "comment_count"),
    ("finishCount", "finish_count"),
    ("totalWatchTime", "total_watch_time"),
    ("isLocked", "is_locked"),
    ("createdAt", iso_sql("created_at")),
    ("updatedAt", iso_sql("updated_at")),
    ("streamUrl", STREAM_URL_SQL),
    ("thumbnailUrl", THUMBNAIL_URL_SQL),
    ("storyboardUrl", STORYBOARD_URL_SQL),
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
