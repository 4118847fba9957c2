"""The HTTP API under /api/v1 (and /metrics), served in the platform's own event loop.

- :mod:`~forewarn.web.context`: what the handlers need from the running platform;
- :mod:`~forewarn.web.problems`: every error as ``application/problem+json``;
- :mod:`~forewarn.web.auth`: bearer API tokens to users;
- :mod:`~forewarn.web.durable`: submit a batch and wait for its commit (a 200 means stored);
- :mod:`~forewarn.web.routes_health`, :mod:`~forewarn.web.routes_ingest`,
  :mod:`~forewarn.web.routes_series`: the endpoints;
- :mod:`~forewarn.web.app`: :func:`create_app`, the Litestar app factory;
- :mod:`~forewarn.web.server`: :class:`HttpServer`, uvicorn as a task of the running loop.
"""

from __future__ import annotations
