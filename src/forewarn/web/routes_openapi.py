"""GET /api/v1/openapi.json: the OpenAPI 3 document of this API.

Served by our own route, not Litestar's OpenAPI router: that router answers any unknown path
beside it with an HTML 404 page, and every error here is ``application/problem+json``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

__all__ = ["openapi_json"]


@get("/api/v1/openapi.json", include_in_schema=False, sync_to_thread=False)
def openapi_json(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    return Response(request.app.openapi_schema.to_schema(), media_type="application/vnd.oai.openapi+json")
