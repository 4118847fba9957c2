"""The dashboard's pages and files: ``/`` and the pages' paths answer the one HTML shell;
``/static/...`` answers the page modules, the stylesheet and the vendored libraries.

Every answer carries a Content-Security-Policy that allows this host only (scripts, styles,
connections, images; images also as ``data:``/``blob:`` for charts and map markers), plus a
configured map tile server's host when there is one: regulators' networks are often cut off
from the internet, and nothing on the page may come from elsewhere. Files are read once and
kept in memory (they are small and never change while the platform runs), so serving one
costs the event loop no disk read after the first.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from forewarn.web.context import ApiContext
from forewarn.web.dashboard.vendor import missing_vendor_files
from forewarn.web.problems import ApiProblem

__all__ = ["DASHBOARD_ROUTES", "STATIC_DIR", "content_security_policy"]

STATIC_DIR = Path(__file__).parent / "static"

#: the paths the single-page app answers with its shell (the pages route themselves)
PAGE_PATHS = ["/", "/login", "/screen", "/alarms", "/silences", "/playback", "/registry", "/screening", "/statistics",
              "/linkage"]

_TYPES = {".js": "text/javascript", ".css": "text/css",
          ".html": "text/html", ".svg": "image/svg+xml", ".json": "application/json",
          ".png": "image/png", ".geojson": "application/geo+json"}

_cache: dict[str, tuple[bytes, str]] = {}


def content_security_policy(tile_url: str = "", cameras: Iterable[str] = ()) -> str:
    """The dashboard's CSP: this host only, plus the host of a configured tile server's images,
    plus exactly the origins of the registered cameras' live views (images: MJPEG; media: HLS)."""
    live = "".join(f" {o}" for o in sorted(cameras))
    images = "'self' data: blob:"
    if tile_url:
        parts = urlsplit(tile_url.replace("{s}", "a"))
        if parts.scheme in ("http", "https") and parts.netloc:
            host = parts.netloc.replace("a.", "*.", 1) if "{s}" in tile_url else parts.netloc
            images += f" {parts.scheme}://{host}"
    return ("default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src {images}{live}; media-src 'self' blob:{live}; font-src 'self'; connect-src 'self'; "
            "object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'self'")


def _headers(ctx: ApiContext) -> dict[str, str]:
    cameras = ctx.cameras.live_origins if ctx.cameras is not None else ()
    return {"Content-Security-Policy": content_security_policy(str(getattr(ctx.settings, "map_tile_url", "") or ""),
                                                               cameras),
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def _file(relative: str) -> tuple[bytes, str] | None:
    """(bytes, ETag) of a file under static/, or None when there is none (or it leaves static/)."""
    cached = _cache.get(relative)
    if cached is not None:
        return cached
    path = (STATIC_DIR / relative).resolve()
    if not path.is_relative_to(STATIC_DIR.resolve()) or not path.is_file():
        return None
    data = path.read_bytes()
    found = (data, '"' + hashlib.sha256(data).hexdigest()[:20] + '"')
    _cache[relative] = found
    return found


def _answer(request: Request[Any, Any, Any], ctx: ApiContext, relative: str, *, cache: str) -> Response[bytes]:
    found = _file(relative)
    if found is None:
        raise ApiProblem(404, f"no dashboard file /static/{relative}")
    data, etag = found
    headers = {**_headers(ctx), "ETag": etag, "Cache-Control": cache}
    suffix = Path(relative).suffix
    media = _TYPES.get(suffix) or mimetypes.guess_type(relative)[0] or "application/octet-stream"
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=headers, media_type=media)
    return Response(data, headers=headers, media_type=media)


def _shell(request: Request[Any, Any, Any], ctx: ApiContext) -> Response[bytes]:
    missing = missing_vendor_files()
    if missing:
        raise ApiProblem(503, f"the dashboard's libraries are not installed ({', '.join(missing)}): run 'make install' "
                              "(it installs them from npm into the package)", title="Dashboard not installed")
    return _answer(request, ctx, "index.html", cache="no-cache")


@get(PAGE_PATHS, include_in_schema=False, sync_to_thread=False)
def dashboard_page(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> Response[bytes]:
    """The dashboard's HTML shell (the page's module draws the rest)."""
    return _shell(request, ctx)


@get(["/sites/{item:int}", "/alarms/{item:int}"], include_in_schema=False, sync_to_thread=False)
def dashboard_item_page(item: FromPath[int], request: Request[Any, Any, Any],
                        ctx: NamedDependency[ApiContext]) -> Response[bytes]:
    """The shell for a page about one site or alarm."""
    return _shell(request, ctx)


@get("/static/{path:path}", include_in_schema=False, sync_to_thread=False)
def dashboard_file(path: FromPath[str], request: Request[Any, Any, Any],
                   ctx: NamedDependency[ApiContext]) -> Response[bytes]:
    """A page module, the stylesheet, or a library. Libraries never change between set-ups:
    they may be cached for a day; the pages' own files are checked each time (ETag)."""
    relative = path.lstrip("/")
    cache = "public, max-age=86400" if relative.startswith("vendor/") else "no-cache"
    return _answer(request, ctx, relative, cache=cache)


DASHBOARD_ROUTES = [dashboard_page, dashboard_item_page, dashboard_file]

