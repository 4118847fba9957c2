"""GET /api/v1/docs: interactive API docs (Swagger UI) served by the platform itself.

Litestar's own docs pages load Swagger UI, Scalar or ReDoc from public CDNs, which a
regulator's intranet often cannot reach. Here the Swagger UI files come from the
``swagger-ui-bundle-v2`` package (installed with forewarn) and are served from
``/api/v1/docs/<file>``; the page reads ``/api/v1/openapi.json``. Its "Authorize" button takes
an API token (``forewarn users token NAME``), sent as ``Authorization: Bearer``.

Every answer carries a Content-Security-Policy that allows this host only: no inline script
(the page's set-up is a file of its own), images also as ``data:`` URIs (Swagger UI's icons).
"""

from __future__ import annotations

import functools
import mimetypes
from pathlib import Path
from typing import Any

from litestar import Response, get
from litestar.params import FromPath

from forewarn import __version__
from forewarn.web.problems import ApiProblem

__all__ = ["CSP", "docs_asset", "docs_page"]

#: the Content-Security-Policy of the docs page and its files
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>forewarn {__version__} API</title>
<link rel="stylesheet" href="/api/v1/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/api/v1/docs/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="/api/v1/docs/favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/v1/docs/swagger-ui-bundle.js"></script>
<script src="/api/v1/docs/forewarn-docs.js"></script>
</body>
</html>
"""

#: the page's set-up, a file so that the CSP needs no inline script
_INIT_JS = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    displayRequestDuration: true,
  });
});
"""

#: the files of the Swagger UI distribution that the page uses
_ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png"})


@functools.cache
def _dist() -> Path:
    from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

    return Path(str(swagger_ui_path))


@functools.cache
def _asset(name: str) -> tuple[bytes, str]:
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith("javascript"):
        media_type += "; charset=utf-8"
    return (_dist() / name).read_bytes(), media_type


@get("/api/v1/docs", include_in_schema=False, sync_to_thread=False)
def docs_page() -> Response[str]:
    return Response(_PAGE, media_type="text/html",
                    headers={**_HEADERS, "Cache-Control": "no-cache"})


@get("/api/v1/docs/{name:str}", include_in_schema=False, sync_to_thread=False)
def docs_asset(name: FromPath[str]) -> Response[Any]:
    if name == "forewarn-docs.js":
        body, media_type = _INIT_JS.encode(), "text/javascript"
    elif name in _ASSETS:
        body, media_type = _asset(name)
    else:
        raise ApiProblem(404, f"no docs file {name!r}: the docs are at /api/v1/docs")
    return Response(body, media_type=media_type, headers={**_HEADERS, "Cache-Control": "public, max-age=3600"})
