"""Query parameters a list does not take are refused by name, not ignored.

``GET /api/v1/devices?onlin=false`` that silently answers every device tells the person the
opposite of what they asked; ``/api/v1/audit?entity=sites`` that answers nothing looks like an
empty log. So a handler calls :func:`reject_unknown_query` first (the parameters it takes are
read from its own signature, as the OpenAPI document shows them, so the two cannot drift
apart), and an enumerated parameter checks its value with :func:`check_choice`; both answer
400 naming the parameter and what is allowed.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from litestar import Request
from litestar.handlers import BaseRouteHandler
from litestar.params import ParameterKwarg, QueryParameter

from forewarn.web.problems import ApiProblem

__all__ = ["check_choice", "query_names", "reject_unknown_query"]

#: per handler object (not its id(): a handler of an app that is gone may leave its id to another's)
_NAMES: weakref.WeakKeyDictionary[BaseRouteHandler, frozenset[str]] = weakref.WeakKeyDictionary()


def query_names(handler: BaseRouteHandler) -> frozenset[str]:
    """The query parameters ``handler`` declares (by the names a client sends: ``format``, ``from``)."""
    found = _NAMES.get(handler)
    if found is None:
        names = set()
        for name, parameter in handler.parsed_fn_signature.parameters.items():
            kwarg = parameter.kwarg_definition
            if isinstance(kwarg, QueryParameter):
                names.add(kwarg.name or name)
            elif isinstance(kwarg, ParameterKwarg) and kwarg.query:
                names.add(kwarg.query)
        found = _NAMES[handler] = frozenset(names)
    return found


def reject_unknown_query(request: Request[Any, Any, Any], *, also: Iterable[str] = ()) -> None:
    """400 when the request carries a query parameter its handler does not take (``also``: ones
    it reads by hand)."""
    allowed = query_names(request.route_handler) | set(also)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        names = ", ".join(sorted(allowed)) or "none"
        raise ApiProblem(400, f"unknown query parameter(s) {', '.join(map(repr, unknown))}: "
                              f"{request.url.path} takes {names}")


def check_choice(name: str, value: str | None, allowed: Iterable[str]) -> str | None:
    """``value`` when it is one of ``allowed`` (None and "" pass as "not given"); else 400 naming them."""
    if value is None or value == "":
        return None
    choices = list(allowed)
    if value not in choices:
        raise ApiProblem(400, f"{name}={value!r} is not one of {', '.join(choices)}")
    return value
