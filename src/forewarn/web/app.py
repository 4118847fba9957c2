"""The Litestar app factory: nothing is built at import time."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from forewarn import __version__
from forewarn.web.context import ApiContext
from forewarn.web.dashboard.routes import DASHBOARD_ROUTES
from forewarn.web.problems import problem_handler
from forewarn.web.routes_aggregates import AGGREGATE_ROUTES
from forewarn.web.routes_alarms import ALARM_ROUTES
from forewarn.web.routes_audit import audit_log
from forewarn.web.routes_auth import change_password, login, logout, session_info
from forewarn.web.routes_cameras import CAMERA_ROUTES
from forewarn.web.routes_data_audit import DATA_AUDIT_ROUTES
from forewarn.web.routes_docs import docs_asset, docs_page
from forewarn.web.routes_forwarding import FORWARDING_ROUTES
from forewarn.web.routes_health import health, metrics
from forewarn.web.routes_ingest import ingest, telemetry
from forewarn.web.routes_latest import region_latest, site_latest
from forewarn.web.routes_live import live_sse, live_ws
from forewarn.web.routes_openapi import openapi_json
from forewarn.web.routes_overview import OVERVIEW_ROUTES
from forewarn.web.routes_quarantine import QUARANTINE_ROUTES
from forewarn.web.routes_registry import REGISTRY_ROUTES
from forewarn.web.routes_registry_import import (
    MAX_IMPORT_BYTES,
    export_registry,
    import_registry,
    issue_token,
    revoke_tokens,
)
from forewarn.web.routes_reports import REPORT_ROUTES
from forewarn.web.routes_screening import SCREENING_ROUTES
from forewarn.web.routes_series import point_series
from forewarn.web.routes_site_lifecycle import SITE_LIFECYCLE_ROUTES
from forewarn.web.routes_sites import SITE_ROUTES
from forewarn.web.routes_stats import STATS_ROUTES
from forewarn.web.routes_users import USER_ROUTES

__all__ = ["create_app"]


def create_app(ctx: ApiContext) -> Litestar:
    """The HTTP API over a running platform's parts (see :class:`ApiContext`).

    The OpenAPI 3 document is at ``/api/v1/openapi.json``. Litestar's interactive docs
    (Swagger, Scalar, ReDoc ...) load their scripts from public CDNs, which a regulator's
    intranet may not reach: Swagger UI is served from the platform itself at ``/api/v1/docs``
    (see routes_docs).
    """

    def provide_ctx() -> ApiContext:
        return ctx

    return Litestar(
        route_handlers=[
            health, metrics, openapi_json, docs_page, docs_asset,
            telemetry, ingest,
            login, logout, session_info, change_password, audit_log, *USER_ROUTES,
            *ALARM_ROUTES, *QUARANTINE_ROUTES, *DATA_AUDIT_ROUTES, *SCREENING_ROUTES,
            point_series, site_latest, region_latest, *SITE_ROUTES, *OVERVIEW_ROUTES, *STATS_ROUTES, *AGGREGATE_ROUTES,
            *REPORT_ROUTES, *REGISTRY_ROUTES, *SITE_LIFECYCLE_ROUTES, *CAMERA_ROUTES,
            *FORWARDING_ROUTES, import_registry, export_registry, issue_token, revoke_tokens,
            live_ws, live_sse,
            *DASHBOARD_ROUTES,
        ],
        dependencies={"ctx": Provide(provide_ctx, use_cache=True, sync_to_thread=False)},
        exception_handlers={HTTPException: problem_handler, Exception: problem_handler},
        openapi_config=OpenAPIConfig(
            title="forewarn",
            version=__version__,
            description="Online monitoring and early warning: ingest, readings, operations.",
            # Litestar's own schema router, out of the way (see routes_openapi)
            path="/api/v1/_schema",
            render_plugins=[JsonRenderPlugin(path="/openapi.json")],
            use_handler_docstrings=True,  # what each endpoint does, in the docs page too
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(type="http", scheme="bearer",
                                             description="an API token (forewarn users token NAME)"),
                    "session": SecurityScheme(type="apiKey", name="forewarn_session", security_scheme_in="cookie",
                                              description="the dashboard session of POST /api/v1/auth/login; "
                                                          "unsafe requests also send X-CSRF-Token"),
                }
            ),
        ),
        logging_config=None,
        # each endpoint sets its own, smaller limit (web/body.py); this is only the outer bound, above
        # the largest (a 20 MB registry sheet), so that the endpoint's own 413 says what to do
        request_max_body_size=MAX_IMPORT_BYTES + 1_000_000,
    )
