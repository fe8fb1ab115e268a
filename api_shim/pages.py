"""Server-rendered pages: one Jinja2 environment, one base layout, one static folder.

Every page extends ``templates/base.html`` (header, navigation, main, footer) and brings its
behaviour as plain JavaScript modules from ``/static/js/`` (no build step, no inline script:
the app sends a strict Content-Security-Policy, see ``middleware.SecurityHeaders``). Data a
script needs reaches it through ``data-*`` attributes, never through inline code. Jinja2
autoescapes every ``{{ value }}``, and the scripts only ever set ``textContent``, so names,
titles and comments from users or from the disk are shown as text.

A page is ``render(request, "name.html", {...})``; its navigation entry, if any, is one line
of ``NAV``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

PACKAGE_DIR = Path(__file__).parent
TEMPLATE_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
STATIC_PREFIX = "/static"


@dataclass(frozen=True)
class NavLink:
    path: str
    label: str
    admin: bool = False


# The site's navigation, in the order the header shows it.
NAV: tuple[NavLink, ...] = (
    NavLink("/gallery", "Gallery"),
    NavLink("/admin/queue", "Queue", admin=True),
    NavLink("/admin/jobs", "Jobs", admin=True),
    NavLink("/admin/library", "Library", admin=True),
    NavLink("/admin/shared", "Shared media", admin=True),
)

ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    autoescape=True,  # every template, whatever its name
    undefined=jinja2.StrictUndefined,  # a misspelt variable fails the test, not the page
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.globals["nav"] = NAV
ENV.globals["static"] = STATIC_PREFIX


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """A page from ``template`` (which extends ``base.html``), never cached by browsers."""
    html = ENV.get_template(template).render(
        {"path": request.url.path, **(context or {})},
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-cache"})


def not_found_page(request: Request, message: str) -> HTMLResponse:
    """The 404 page a browser shows for a page that does not exist (or is locked)."""
    return render(request, "not_found.html", {"title": "Not found", "message": message}, 404)


def home(_: Request) -> RedirectResponse:
    return RedirectResponse("/gallery", status_code=307)


ROUTES: list[BaseRoute] = [
    Route("/", home, methods=["GET"], include_in_schema=False),
    Mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static"),
]
