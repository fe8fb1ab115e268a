"""``GET /openapi.json``: an OpenAPI 3.0 document of every endpoint of the shim.

Written out by hand from the routes (parameters, bodies, response shapes with the seed's exact
keys); the Schemathesis test in ``tests/integration/test_api_schemathesis.py`` checks the
running app against it, so the two cannot drift apart silently.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api_shim.bodies import (
    CommentBody,
    FinishBody,
    HiddenBody,
    JobBody,
    JobsBody,
    MediaIdsBody,
    PauseBody,
    PipelineBody,
    ReactionBody,
    SessionBody,
    ViewBody,
    WatchTimeBody,
    components_of,
    schema_of,
)
from api_shim.gallery import SORTS
from api_shim.params import INT32_MAX
from api_shim.reactions import REACTIONS
from mediaq.jobstates import JobStatus
from mediaq.jobtypes import JOB_TYPES
from mediaq.models import DIRECTORY_TYPES
from mediaq.settings import RESOURCE_CLASSES

Schema = dict[str, Any]

INT = {"type": "integer"}
NINT = {"type": "integer", "nullable": True}
STR = {"type": "string"}
NSTR = {"type": "string", "nullable": True}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "nullable": True}
ID_PARAM = {"type": "integer", "minimum": 1, "maximum": INT32_MAX}


def obj(props: dict[str, Schema], required: list[str] | None = None, extra: bool = False) -> Schema:
    """An object schema; every listed property is required unless told otherwise."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
        "additionalProperties": extra,
    }


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def query(name: str, schema: Schema, description: str = "") -> Schema:
    if "enum" in schema:  # an empty choice means "not given" (``api_shim.params.query_choice``)
        schema = {**schema, "enum": [*schema["enum"], ""]}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


PATH_ID = {"name": "id", "in": "path", "required": True, "schema": ID_PARAM}
LIMIT_OFFSET = [
    query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": INT32_MAX},
        "page size (values above 100 are capped)",
    ),
    query("offset", {"type": "integer", "minimum": 0, "maximum": INT32_MAX}),
]
BEARER: list[Schema] = [{"bearer": []}]

PAGINATION = obj({"total": INT, "limit": INT, "offset": INT, "hasMore": BOOL})

SCHEMAS: dict[str, Schema] = {
    "Error": obj({"error": STR}),
    "Pagination": PAGINATION,
    # GET /api/jobs: keyset pages (nextBefore) and a capped total for text searches
    "JobPagination": obj(
        {
            "total": INT,
            "limit": INT,
            "offset": INT,
            "hasMore": BOOL,
            "nextBefore": {"type": "integer", "nullable": True},
            "totalCapped": BOOL,
        },
        required=["total", "limit", "offset", "hasMore", "nextBefore"],
    ),
    "GalleryItem": obj(
        {
            "id": INT,
            "filename": STR,
            "category": STR,
            "durationSeconds": NINT,
            "quality": NSTR,
            "orientation": NSTR,
            "thumbnailPath": NSTR,
            "viewCount": INT,
            "upvoteCount": INT,
            "commentCount": INT,
            "isLocked": BOOL,
            "createdAt": TIME,
            "streamUrl": STR,
            "thumbnailUrl": NSTR,
        }
    ),
    "Media": obj(
        {
            "id": INT,
            "path": NSTR,
            "filename": STR,
            "category": STR,
            "durationSeconds": NINT,
            "quality": NSTR,
            "orientation": NSTR,
            "thumbnailPath": NSTR,
            "fileSize": NINT,
            "viewCount": INT,
            "upvoteCount": INT,
            "commentCount": INT,
            "finishCount": INT,
            "totalWatchTime": INT,
            "isLocked": BOOL,
            "createdAt": TIME,
            "updatedAt": TIME,
            "streamUrl": STR,
            "thumbnailUrl": NSTR,
            "storyboardUrl": NSTR,
        }
    ),
    "VideoItem": obj(
        {
            "id": INT,
            "title": NSTR,
            "filename": STR,
            "duration": NINT,
            "fileSize": NINT,
            "width": NINT,
            "height": NINT,
            "createdAt": TIME,
            "updatedAt": TIME,
        }
    ),
    "Reaction": obj(
        {
            "id": INT,
            "mediaId": INT,
            "userId": INT,
            "reactionType": {"type": "string", "enum": list(REACTIONS)},
            "videoTimestamp": INT,
            "emoji": STR,
            "formattedTime": STR,
            "createdAt": TIME,
        }
    ),
    "Comment": obj(
        {
            "id": INT,
            "mediaId": INT,
            "userId": NINT,
            "authorName": NSTR,
            "content": STR,
            "videoTimestamp": NINT,
            "formattedTime": NSTR,
            "createdAt": TIME,
            "hidden": BOOL,  # moderation answers and admin lists only
        },
        required=[
            "id",
            "mediaId",
            "userId",
            "authorName",
            "content",
            "videoTimestamp",
            "formattedTime",
            "createdAt",
        ],
    ),
    "Job": {"type": "object", "required": ["id", "type", "status"]},
}


def json_content(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def responses(ok: Schema, status: str = "200") -> Schema:
    """The success response plus the error shape for every other status."""
    return {
        status: {"description": "success", **json_content(ok)},
        "default": {"description": 'an error: {"error": "..."}', **json_content(ref("Error"))},
    }


def body(schema: Schema, required: bool = True) -> Schema:
    return {"required": required, **json_content(schema)}


def op(
    summary: str,
    ok: Schema,
    *,
    params: list[Schema] | None = None,
    request: Schema | None = None,
    status: str = "200",
    auth: bool = False,
) -> Schema:
    operation: Schema = {"summary": summary, "responses": responses(ok, status)}
    if params:
        operation["parameters"] = params
    if request is not None:
        operation["requestBody"] = request
    if auth:
        operation["security"] = BEARER
    return operation


BODY_MODELS = (
    SessionBody, FinishBody, WatchTimeBody, ViewBody, MediaIdsBody, JobsBody, PipelineBody, JobBody,
    CommentBody, HiddenBody, ReactionBody,
)  # fmt: skip


def file_op(summary: str, content_type: str) -> Schema:
    """A GET of a library file: 200/206 bytes, 304, 416, or an error."""
    binary = {content_type: {"schema": {"type": "string", "format": "binary"}}}
    return {
        "summary": summary,
        "parameters": [
            PATH_ID,
            {"name": "Range", "in": "header", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {"description": "the whole file", "content": binary},
            "206": {"description": "the requested byte range", "content": binary},
            "304": {"description": "not modified (If-None-Match / If-Modified-Since)"},
            "416": {"description": "range not satisfiable", **json_content(ref("Error"))},
            "default": {"description": 'an error: {"error": "..."}', **json_content(ref("Error"))},
        },
    }


def file_paths() -> dict[str, Schema]:
    """The bytes of the gallery: stream and thumbnail of an unlocked item."""
    return {
        "/api/media/public/{id}/stream": {
            "get": file_op("The item's video, with HTTP Range (404 when locked)", "video/*")
        },
        "/api/media/public/{id}/thumbnail": {
            "get": file_op("The item's thumbnail (404 when locked or none)", "image/*")
        },
        "/api/media/public/{id}/storyboard.vtt": {
            "get": file_op("The item's seek-preview track (WebVTT thumbnails)", "text/vtt")
        },
        "/api/media/public/{id}/storyboard/{name}": {
            "get": {
                **file_op("One sprite sheet of the seek previews", "image/jpeg"),
                "parameters": [
                    PATH_ID,
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
            }
        },
    }


def media_paths() -> dict[str, Schema]:
    """The public gallery and its actions."""
    return {
        "/api/media/public": {
            "get": op(
                "List unlocked public media (paginated, filterable, sorted)",
                obj({"videos": array(ref("GalleryItem")), "pagination": ref("Pagination")}),
                params=[
                    query("category", {"type": "string", "maxLength": 100}),
                    query("search", {"type": "string", "maxLength": 200}, "filename/path, literal"),
                    query("sort", {"type": "string", "enum": list(SORTS)}),
                    query("orientation", {"type": "string", "maxLength": 50}),
                    *LIMIT_OFFSET,
                ],
            )
        },
        "/api/media/public/{id}": {
            "get": op(
                "One media item; counts a view (once per session per window, not waited for)",
                ref("Media"),
                params=[
                    PATH_ID,
                    query("sessionId", {"type": "string", "maxLength": 128}),
                    query(
                        "countView",
                        {"type": "string", "enum": ["true", "false"]},
                        "false: do not count a view (the player reports it after playing)",
                    ),
                ],
            )
        },
        "/api/media/public/{id}/view": {
            "post": op(
                "The player's view report: counted once the video has played long enough "
                "(once per session per window; 429 past the rate limits)",
                obj({"success": BOOL, "counted": BOOL, "minPlaySeconds": INT}),
                params=[PATH_ID],
                request=body(schema_of(ViewBody)),
            )
        },
        "/api/media/public/{id}/upvote": {
            "post": op(
                "Upvote (one per session)",
                obj({"success": BOOL, "upvoted": BOOL, "upvoteCount": INT}),
                params=[PATH_ID],
                request=body(schema_of(SessionBody)),
            ),
            "delete": op(
                "Remove this session's upvote",
                obj({"success": BOOL, "upvoted": BOOL, "upvoteCount": INT}),
                params=[PATH_ID, query("sessionId", {"type": "string", "maxLength": 128})],
            ),
        },
        "/api/media/public/{id}/finish": {
            "post": op(
                "Count a finished playback (once per session per window with a sessionId)",
                obj({"success": BOOL, "counted": BOOL, "finishCount": INT}),
                params=[PATH_ID],
                request=body(schema_of(FinishBody), required=False),
            )
        },
        "/api/media/public/{id}/watch-time": {
            "post": op(
                "Add watch time in seconds (bounded by the video's duration)",
                obj({"success": BOOL, "recorded": INT, "totalWatchTime": INT}),
                params=[PATH_ID],
                request=body(schema_of(WatchTimeBody)),
            )
        },
        "/api/media/comments": {
            "get": op(
                "Comments of one media item, newest first",
                obj({"comments": array(ref("Comment")), "pagination": ref("Pagination")}),
                params=[
                    {"name": "mediaId", "in": "query", "required": True, "schema": ID_PARAM},
                    *LIMIT_OFFSET,
                    query(
                        "includeHidden",
                        {"type": "string", "enum": ["true", "false"]},
                        "admin only: hidden comments too, each with `hidden`",
                    ),
                ],
            ),
            "post": op(
                "Add a comment (auth optional; anonymous comments need a sessionId)",
                obj({"success": BOOL, "comment": ref("Comment")}),
                status="201",
                request=body(schema_of(CommentBody)),
            ),
        },
        "/api/media/comments/{id}": {
            "patch": op(
                "Hide or show a comment (admin); hidden comments leave the list and commentCount",
                obj({"success": BOOL, "comment": ref("Comment")}),
                params=[PATH_ID],
                request=body(schema_of(HiddenBody)),
                auth=True,
            ),
            "delete": op(
                "Delete a comment (admin)",
                obj({"success": BOOL, "id": INT}),
                params=[PATH_ID],
                auth=True,
            ),
        },
    }


def reaction_paths() -> dict[str, Schema]:
    return {
        "/api/reactions": {
            "get": op(
                "Reactions, by media (timeline order) or user (newest first)",
                obj({"reactions": array(ref("Reaction"))}),
                params=[
                    query("mediaId", ID_PARAM),
                    query("userId", {"type": "integer", "minimum": 0, "maximum": INT32_MAX}),
                    *LIMIT_OFFSET,
                ],
            ),
            "post": op(
                "Add a timestamped reaction (user JWT)",
                obj({"success": BOOL, "reaction": ref("Reaction")}),
                auth=True,
                request=body(schema_of(ReactionBody)),
            ),
        },
        "/api/reactions/config": {
            "get": op(
                "Reaction types with emoji and label",
                obj({"reactions": array(obj({"type": STR, "emoji": STR, "label": STR}))}),
            )
        },
        "/api/reactions/heatmap": {
            "get": op(
                "Reactions per 1/100 of the video, relative to the busiest segment",
                obj(
                    {
                        "segments": INT,
                        "total": INT,
                        "minReactions": INT,
                        "curve": {"type": "array", "items": {"type": "number"}, "nullable": True},
                    }
                ),
                params=[{**query("mediaId", ID_PARAM), "required": True}],
            )
        },
    }


def admin_paths() -> dict[str, Schema]:
    """Admin video library and admin control of the public gallery."""
    admin_media = {**SCHEMAS["Media"]["properties"], "lockedAt": TIME, "lockedReason": NSTR}
    return {
        "/api/videos": {
            "get": op(
                "List library videos (admin)",
                obj({"videos": array(ref("VideoItem")), "total": INT, "limit": INT, "offset": INT}),
                auth=True,
                params=[
                    query("search", {"type": "string", "maxLength": 200}, "title or filename"),
                    query("directoryType", {"type": "string", "enum": list(DIRECTORY_TYPES)}),
                    *LIMIT_OFFSET,
                ],
            )
        },
        "/api/videos/health": {
            "get": op(
                "Health of the API, PostgreSQL and Redis",
                obj({"status": STR, "database": STR, "redis": STR}),
            )
        },
        "/api/videos/{id}": {
            "get": op(
                "One library video (admin)",
                {"type": "object", "required": list(SCHEMAS["VideoItem"]["properties"])},
                auth=True,
                params=[PATH_ID],
            )
        },
        "/api/admin/media": {
            "get": op(
                "Public media including locked items (admin)",
                obj({"media": array(obj(admin_media)), "pagination": ref("Pagination")}),
                auth=True,
                params=[
                    query("locked", {"type": "string", "enum": ["true", "false"]}),
                    query("category", {"type": "string", "maxLength": 100}),
                    *LIMIT_OFFSET,
                ],
            )
        },
        "/api/admin/media/lock": {
            "post": op(
                "Lock public media in bulk (admin)",
                obj({"success": BOOL, "locked": array(INT), "notFound": array(INT)}),
                auth=True,
                request=body(schema_of(MediaIdsBody)),
            )
        },
        "/api/admin/media/unlock": {
            "post": op(
                "Unlock public media in bulk (admin)",
                obj({"success": BOOL, "unlocked": array(INT), "notFound": array(INT)}),
                auth=True,
                request=body(schema_of(MediaIdsBody)),
            )
        },
    }


CLASS_PARAM = {
    "name": "class",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": list(RESOURCE_CLASSES)},
}
NAME_PARAM = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
PAUSE_BODY = schema_of(PauseBody)
SCHEDULE_BODY = obj(
    {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "cron": {
            "type": "string",
            "nullable": True,
            "description": "5 fields: minute hour day month weekday",
        },
        "everySeconds": {"type": "integer", "minimum": 1, "nullable": True},
        "timezone": {"type": "string", "default": "UTC", "nullable": True},
        "job": schema_of(JobBody),
    },
    required=["name", "job"],
)


def control_paths() -> dict[str, Schema]:
    """Queue controls (``api_shim.queue_routes``, ``bulk_routes``, ``schedule_routes``)."""
    return {
        "/api/jobs/bulk": {
            "post": op(
                "Cancel, retry or delete jobs by ids or by filter, in batches",
                obj({"action": STR, "matched": INT, "changed": INT}),
                auth=True,
                request=body(
                    obj(
                        {
                            "action": {"type": "string", "enum": ["cancel", "retry", "delete"]},
                            "ids": array({"type": "integer", "minimum": 1}),
                            "filter": obj(
                                {
                                    "status": {"type": "string"},
                                    "type": {"type": "string"},
                                    "resourceCategory": {"type": "string"},
                                    "createdBefore": {"type": "string", "format": "date-time"},
                                    "createdAfter": {"type": "string", "format": "date-time"},
                                    "text": {"type": "string", "maxLength": 200},
                                },
                                required=[],
                            ),
                        },
                        required=["action"],
                    )
                ),
            )
        },
        "/api/admin/media/{id}": {
            "patch": op(
                "Move a public item to another category",
                obj({"success": BOOL, "media": {"type": "object"}}),
                auth=True,
                params=[PATH_ID],
                request=body(
                    obj({"category": {"type": "string", "minLength": 1, "maxLength": 100}})
                ),
            )
        },
        "/api/queues/pauses": {
            "get": op("What is paused", obj({"pauses": array({"type": "object"})}), auth=True)
        },
        "/api/queues/{class}/pause": {
            "post": op(
                "Pause a class, or one job type in it ({type})",
                {"type": "object", "required": ["paused", "pause"]},
                auth=True,
                params=[CLASS_PARAM],
                request=body(PAUSE_BODY, required=False),
            )
        },
        "/api/queues/{class}/resume": {
            "post": op(
                "Resume a class, or one job type in it ({type})",
                {"type": "object", "required": ["paused"]},
                auth=True,
                params=[CLASS_PARAM],
                request=body(PAUSE_BODY, required=False),
            )
        },
        "/api/schedules": {
            "post": op(
                "Add a schedule (cron or everySeconds): one job per due slot",
                obj({"schedule": {"type": "object"}}),
                status="201",
                auth=True,
                request=body(SCHEDULE_BODY),
            ),
            "get": op("List schedules", obj({"schedules": array({"type": "object"})}), auth=True),
        },
        "/api/schedules/{name}": {
            "get": op(
                "One schedule and its latest slots",
                obj({"schedule": {"type": "object"}, "runs": array({"type": "object"})}),
                auth=True,
                params=[NAME_PARAM],
            ),
            "delete": op(
                "Delete a schedule", obj({"deleted": STR}), auth=True, params=[NAME_PARAM]
            ),
        },
    }


def job_paths() -> dict[str, Schema]:
    """The job API of SPEC §4 (``api_shim.jobs_routes``)."""
    # The job API is the engine's: shapes name their required keys and allow more.
    job = obj({"job": ref("Job")}, extra=True)
    enqueue_op = op(
        "Enqueue a job (or {jobs: [...]} in bulk); params are checked against the type's model",
        {"type": "object"},
        status="201",
        auth=True,
        request=body({"oneOf": [schema_of(JobBody), schema_of(JobsBody)]}),
    )
    enqueue_op["responses"]["200"] = {
        "description": "a live job with the same uniqueKey exists: that job",
        **json_content(job),
    }
    return {
        "/api/jobs": {
            "post": enqueue_op,
            "get": op(
                "List jobs",
                obj({"jobs": array(ref("Job")), "pagination": ref("JobPagination")}, extra=True),
                auth=True,
                params=[
                    query("status", {"type": "string", "enum": [s.value for s in JobStatus]}),
                    query("type", {"type": "string", "enum": sorted(JOB_TYPES)}),
                    query("resourceCategory", {"type": "string", "enum": list(RESOURCE_CLASSES)}),
                    query("q", {"type": "string", "maxLength": 200}, "text in the params"),
                    query("before", {"type": "integer", "minimum": 1}, "keyset: ids below"),
                    *LIMIT_OFFSET,
                ],
            ),
        },
        **control_paths(),
        "/api/jobs/queue": {
            "get": op(
                "Queue overview: per class counts, hosts and GPUs",
                obj(
                    {"classes": {"type": "object"}, "hosts": array({"type": "object"})},
                    extra=True,
                ),
                auth=True,
            )
        },
        "/api/jobs/{id}": {
            "get": op("One job", ref("Job"), auth=True, params=[PATH_ID]),
        },
        "/api/jobs/{id}/cancel": {
            "post": op("Cancel a job", job, auth=True, params=[PATH_ID]),
        },
        "/api/jobs/{id}/retry": {
            "post": op("Retry a failed or cancelled job", job, auth=True, params=[PATH_ID]),
        },
        "/api/pipelines": {
            "post": op(
                "Create a pipeline of job steps",
                {"type": "object", "required": ["pipeline", "jobs"]},
                status="201",
                auth=True,
                request=body(schema_of(PipelineBody)),
            )
        },
        "/api/pipelines/{id}": {
            "get": op(
                "A pipeline with its steps and jobs",
                {"type": "object", "required": ["pipeline", "jobs"]},
                auth=True,
                params=[PATH_ID],
            )
        },
    }


@lru_cache(maxsize=1)
def openapi_document() -> Schema:
    """The whole document (built once per process)."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "mediaq HTTP API",
            "version": "1.0.0",
            "description": "The seed's media API (gallery, reactions, comments, admin "
            'library) plus the job API. Errors are always {"error": "..."}.',
        },
        "paths": {
            "/health": {"get": op("Liveness", obj({"status": STR, "service": STR}))},
            **media_paths(),
            **file_paths(),
            **reaction_paths(),
            **admin_paths(),
            **job_paths(),
            "/openapi.json": {"get": op("This document", {"type": "object"})},
        },
        "components": {
            "schemas": SCHEMAS | components_of(*BODY_MODELS),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


async def serve_openapi(_: Request) -> JSONResponse:
    return JSONResponse(openapi_document())


ROUTES = [Route("/openapi.json", serve_openapi, methods=["GET"])]
