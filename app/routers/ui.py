"""The browser UI: the page at ``/``, its static files and the npm packages it loads."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import Scope

from app.errors import error_response
from app.owners import new_token, presented_token, set_owner_cookie
from engine.optimizers import OPTIMIZERS

log = logging.getLogger("backprop_lab")

ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = ROOT / "static"
TEMPLATES_DIR = ROOT / "templates"
NODE_MODULES = ROOT / "node_modules"

# Only these files of the npm packages are served, each under /vendor/<name>.
VENDOR_FILES: dict[str, Path] = {
    "dagre/dagre.min.js": NODE_MODULES / "@dagrejs" / "dagre" / "dist" / "dagre.min.js",
    "uplot/uPlot.esm.js": NODE_MODULES / "uplot" / "dist" / "uPlot.esm.js",
    "uplot/uPlot.min.css": NODE_MODULES / "uplot" / "dist" / "uPlot.min.css",
}

MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css"}

#: Static and vendor files are kept by the browser and revalidated on each load with their
#: ETag (an unchanged file is a body-less 304): their URLs carry no content hash, so a
#: lifetime without revalidation could serve a stale module after an update.
STATIC_CACHE = "no-cache"

MISSING_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Backprop Lab: setup incomplete</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}}
code{{background:#f2f2f2;padding:.1rem .3rem}}</style></head>
<body><h1>The front-end packages are not installed</h1>
<p>The page needs these files from <code>node_modules/</code>, which are missing:</p>
<ul>{items}</ul>
<p>Run <code>npm ci</code> in the project directory, then reload this page.</p>
</body></html>
"""

router = APIRouter(tags=["ui"], include_in_schema=False)
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def missing_vendor_files() -> list[str]:
    """The vendor files the page needs that are not installed."""
    return [name for name, path in VENDOR_FILES.items() if not path.is_file()]


def page_context() -> dict[str, Any]:
    """What the page's template reads from the engine: the optimizer menu, as (name, title), and
    the training defaults and choices (the deeper-network fields)."""
    from engine.trainer import ACTIVATIONS, INITS, MAX_DROPOUT, MAX_WEIGHT_DECAY, TrainConfig

    return {
        "optimizers": [(name, cls.title) for name, cls in OPTIMIZERS.items()],
        "train": TrainConfig(),
        "activations": list(ACTIVATIONS),
        "inits": list(INITS),
        "max_dropout": MAX_DROPOUT,
        "max_weight_decay": MAX_WEIGHT_DECAY,
    }


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def index(request: Request) -> Response:
    """The single page of the lab (or a page that says to run ``npm ci``)."""
    missing = missing_vendor_files()
    if missing:
        items = "".join(f"<li><code>{VENDOR_FILES[name]}</code></li>" for name in missing)
        return HTMLResponse(MISSING_PAGE.format(items=items), status_code=503)
    page = templates.TemplateResponse(request, "index.html", page_context())
    if presented_token(request.headers) is None:
        # The browser's owner token from its first visit: its quotas are its own from then on
        # (not its address's, which a whole classroom may share).
        set_owner_cookie(page, request, new_token())
    return page


class CachedStaticFiles(StaticFiles):
    """Starlette's static files (ETag, Last-Modified, 304s, HEAD) with ``Cache-Control``."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """The file (or a 304), marked to be kept and revalidated."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = STATIC_CACHE
        return response


@router.api_route("/vendor/{name:path}", methods=["GET", "HEAD"])
def vendor(name: str, request: Request) -> Response:
    """One file of an npm package's dist folder, from ``node_modules`` (304 when unchanged)."""
    path = VENDOR_FILES.get(name)
    if path is None:
        return error_response(404, "not_found", f"There is no vendor file '{name}'.")
    if not path.is_file():
        return error_response(
            503,
            "frontend_not_installed",
            f"{path} is missing: run `npm ci` in the project directory.",
            {"file": str(path)},
        )
    response = FileResponse(
        path,
        media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
        headers={"Cache-Control": STATIC_CACHE},
        stat_result=path.stat(),
    )
    tags = request.headers.get("if-none-match", "")
    if response.headers["etag"] in (tag.strip().removeprefix("W/") for tag in tags.split(",")):
        return Response(
            status_code=304,
            headers={"ETag": response.headers["etag"], "Cache-Control": STATIC_CACHE},
        )
    return response


def install_ui(app: FastAPI) -> None:
    """Serve the page, ``/static`` and ``/vendor``; log clearly when ``npm ci`` was not run."""
    missing = missing_vendor_files()
    if missing:
        log.error("front-end packages missing (%s): run `npm ci` in %s", ", ".join(missing), ROOT)
    app.include_router(router)
    app.mount("/static", CachedStaticFiles(directory=str(STATIC_DIR)), name="static")
