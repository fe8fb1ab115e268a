"""The shared page layout: strict CSP on every response, static modules, escaped templates."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from api_shim.middleware import CONTENT_SECURITY_POLICY
from api_shim.pages import ENV, STATIC_DIR, TEMPLATE_DIR
from mediaq.settings import Settings
from tests.integration.apiharness import live_server


def test_every_response_carries_the_strict_csp(settings: Settings) -> None:
    with live_server(settings) as base, httpx.Client(base_url=base) as http:
        for path in ("/", "/static/site.css", "/static/js/api.js", "/health", "/nope"):
            response = http.get(path)
            csp = response.headers["content-security-policy"]
            assert csp == CONTENT_SECURITY_POLICY
            assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
            assert "script-src 'self'" in csp
            assert response.headers["x-content-type-options"] == "nosniff"
        assert http.get("/").headers["location"] == "/gallery"
        script = http.get("/static/js/api.js")
        assert script.status_code == 200
        assert script.headers["content-type"].split(";")[0] in (
            "text/javascript",
            "application/javascript",
        )
        assert http.get("/static/%2e%2e/pages.py").status_code == 404


def test_templates_have_no_inline_script_or_handler() -> None:
    """Pages must work under the CSP: scripts only by src, no on* attributes, no style=."""
    for template in TEMPLATE_DIR.rglob("*.html"):
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag, f"{template.name}: inline <script>"
        assert not re.search(r"\son[a-z]+\s*=", text), f"{template.name}: inline handler"
        assert not re.search(r"\sstyle\s*=", text), f"{template.name}: inline style"
    for script in STATIC_DIR.rglob("*.js"):
        text = script.read_text()
        assert ".innerHTML" not in text and "insertAdjacentHTML" not in text, script.name
        assert "eval(" not in text and "new Function" not in text, script.name


def test_layout_escapes_what_it_is_given() -> None:
    payload = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    html = ENV.get_template("not_found.html").render(
        {"path": "/x", "title": payload, "message": payload}
    )
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_static_folder_is_packaged() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    for pattern in ("static/*", "static/js/*", "templates/*"):
        assert f'"{pattern}"' in pyproject
