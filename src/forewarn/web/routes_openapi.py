"""GET /api/v1/openapi.json: the OpenAPI 3 document of this API.

Served by our own route, not Litestar's OpenAPI router: that router answers any unknown path
beside it with an HTML 404 page, and every error here is ``application/problem+json``. The
request bodies are added from :mod:`forewarn.web.openapi_bodies`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from forewarn.web.openapi_bodies import with_request_bodies

__all__ = ["openapi_json"]


@get("/api/v1/openapi.json", include_in_schema=False, sync_to_thread=False)
def openapi_json(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    document = with_request_bodies(request.app.openapi_schema.to_schema())
    return Response(document, media_type="application/vnd.oai.openapi+json")
