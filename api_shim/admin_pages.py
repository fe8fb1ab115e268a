"""The admin pages: jobs, library and shared media (server-rendered, small plain JS).

The pages carry no data and no secret; their scripts call the admin API with the token the
operator gave once (``#token=...`` in the address, or the sign-in form), kept in the browser.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from api_shim.pages import render
from mediaq.jobstates import JobStatus
from mediaq.jobtypes import JOB_TYPES
from mediaq.models import DIRECTORY_TYPES
from mediaq.settings import RESOURCE_CLASSES


def jobs_page(request: Request) -> HTMLResponse:
    return render(
        request,
        "admin_jobs.html",
        {
            "title": "Jobs",
            "statuses": [s.value for s in JobStatus],
            "classes": RESOURCE_CLASSES,
            "types": sorted(JOB_TYPES),
        },
    )


def library_page(request: Request) -> HTMLResponse:
    return render(
        request, "admin_library.html", {"title": "Library", "directory_types": DIRECTORY_TYPES}
    )


def shared_page(request: Request) -> HTMLResponse:
    return render(
        request,
        "admin_shared.html",
        {"title": "Shared media", "categories": DIRECTORY_TYPES},
    )


ROUTES = [
    Route("/admin/shared", shared_page, methods=["GET"], include_in_schema=False),
    Route("/admin/jobs", jobs_page, methods=["GET"], include_in_schema=False),
    Route("/admin/library", library_page, methods=["GET"], include_in_schema=False),
]
