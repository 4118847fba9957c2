"""The request bodies of the OpenAPI document, declared once per (method, path).

Our handlers read their bodies themselves (:mod:`forewarn.web.body`, :mod:`forewarn.web.fields`)
so that limits and mistakes get our own answers; Litestar therefore cannot infer a body
schema. Without one the interactive docs offer no body to fill in and schemathesis sends none,
so the bodies are described here, the registry's from the same field table that checks them
(:data:`forewarn.registry.edit.ENTITIES`), and merged into the document when it is served.
"""

from __future__ import annotations

from typing import Any

import msgspec

from forewarn.alarms.handling import BULK_STEPS, MAX_BULK
from forewarn.cameras.registry import CameraBody, CameraChange
from forewarn.model import Kind, SiteStatus
from forewarn.registry.edit import ENTITIES, Entity

__all__ = ["with_request_bodies"]

_TEXT: dict[str, Any] = {"type": "string"}
_NOTE: dict[str, Any] = {"type": "object", "properties": {"note": _TEXT}, "additionalProperties": False}
_JSON_TYPES = {str: "string", int: "integer", float: "number"}
_PLURAL = {"region": "regions", "enterprise": "enterprises", "site": "sites", "device": "devices", "point": "points"}


def _entity(entity: Entity, *, creating: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for f in entity.fields:
        if not creating and (not f.mutable or f.changed_by):
            continue
        schema: dict[str, Any] = {"type": _JSON_TYPES[f.kind]}
        if f.nullable:
            schema = {"anyOf": [schema, {"type": "null"}]}
        properties[f.name] = schema
    out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [f.name for f in entity.fields if f.required]
    if creating and required:
        out["required"] = required
    elif not creating:
        out["minProperties"] = 1
    return out


def _object(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_READING = _object(
    ["mn", "code", "field", "ts", "value"], mn=_TEXT, code=_TEXT, field=_TEXT,
    kind={"type": "string", "enum": [k.value for k in Kind]},
    ts={"anyOf": [{"type": "integer"}, {"type": "string"}], "description": "epoch ms or ISO 8601 with an offset"},
    value={"anyOf": [{"type": "number"}, {"type": "null"}]}, flag=_TEXT,
)
_TELEMETRY_ONE: dict[str, Any] = {"type": "object", "description": '{"a34002": 45.2} or {"ts": <ms>, "values": {...}}'}

BODIES: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("post", "/api/v1/auth/login"): ("application/json", _object(["name", "password"], name=_TEXT, password=_TEXT)),
    ("post", "/api/v1/auth/password"): ("application/json", _object(["current", "new"], current=_TEXT, new=_TEXT)),
    ("post", "/api/v1/ingest"): ("application/json", _object(["readings"], readings={"type": "array",
                                                                                       "items": _READING})),
    ("post", "/api/v1/{device_token}/telemetry"): ("application/json", {
        "anyOf": [_TELEMETRY_ONE, {"type": "array", "items": _TELEMETRY_ONE}]}),
    ("post", "/api/v1/alarms/{alarm_id}/ack"): ("application/json", _NOTE),
    ("post", "/api/v1/alarms/{alarm_id}/resolve"): ("application/json", _NOTE),
    ("post", "/api/v1/alarms/{alarm_id}/close"): ("application/json", _NOTE),
    ("post", "/api/v1/alarms/{alarm_id}/dispatch"): ("application/json", _object(["to"], to=_TEXT, note=_TEXT)),
    ("post", "/api/v1/alarms/{alarm_id}/comment"): ("application/json", _object(["text"], text=_TEXT)),
    ("post", "/api/v1/alarms/bulk"): ("application/json", _object(
        ["ids", "step"], ids={"type": "array", "items": {"type": "integer"}, "maxItems": MAX_BULK},
        step={"type": "string", "enum": list(BULK_STEPS)}, note=_TEXT, to=_TEXT)),
    ("post", "/api/v1/alarms/{alarm_id}/record"): ("application/json", _object(
        ["findings"], findings=_TEXT, measures=_TEXT, note=_TEXT,
        attachments={"type": "array", "maxItems": 5,
                     "items": _object(["name", "base64"], name=_TEXT, base64=_TEXT)})),
    ("post", "/api/v1/silences"): ("application/json", _object(
        ["until"], mn=_TEXT, site_id={"type": "integer"}, rule_id=_TEXT, note=_TEXT,
        **{"from": _TEXT, "until": _TEXT})),
    ("post", "/api/v1/quarantine/{mn}/claim"): ("application/json", _object(
        ["site_id"], site_id={"type": "integer"}, password=_TEXT, interval_s={"type": "integer"},
        leniency=_TEXT, device_kind=_TEXT)),
    ("post", "/api/v1/registry/import"): ("text/csv", {"type": "string", "description": "a registry sheet"}),
    ("post", "/api/v1/sites/{site_id}/lifecycle"): ("application/json", _object(
        ["status", "reason"], status={"type": "string", "enum": [s.value for s in SiteStatus]}, reason=_TEXT,
        effective={"type": "string", "description": "ISO 8601 date or time; default now"})),
    ("post", "/api/v1/users"): ("application/json", _object(
        ["name", "role", "password"], name=_TEXT, password=_TEXT, region_code=_TEXT, enterprise_id={"type": "integer"},
        role={"type": "string", "enum": ["city_admin", "district_admin", "enterprise_user", "auditor"]})),
    ("post", "/api/v1/users/{name}/password"): ("application/json", _object(["password"], password=_TEXT)),
    ("post", "/api/v1/users/{name}/tokens"): ("application/json", {
        "type": "object", "properties": {"label": _TEXT, "days": {"type": "number", "minimum": 0, "maximum": 3650}},
        "additionalProperties": False}),
}
for _name, _entity_ in ENTITIES.items():
    BODIES[("post", f"/api/v1/{_PLURAL[_name]}")] = ("application/json", _entity(_entity_, creating=True))
    BODIES[("patch", f"/api/v1/{_PLURAL[_name]}/{{key}}")] = ("application/json", _entity(_entity_, creating=False))

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _struct(kind: type) -> dict[str, Any]:
    """A body declared as a msgspec Struct (the type the handler converts it to), inlined."""
    schema: dict[str, Any] = msgspec.json.schema(kind)
    return dict(schema["$defs"][kind.__name__])


BODIES[("post", "/api/v1/cameras")] = ("application/json", _struct(CameraBody))
BODIES[("patch", "/api/v1/cameras/{camera_id}")] = ("application/json", _struct(CameraChange))


def with_request_bodies(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with a ``requestBody`` on every operation that reads one."""
    paths = document.get("paths", {})
    for (method, path), (media, schema) in BODIES.items():
        operation = paths.get(path, {}).get(method)
        if operation is None:
            continue
        content = {media: {"schema": schema}}
        if path == "/api/v1/registry/import":
            content[_XLSX] = {"schema": {"type": "string", "format": "binary"}}
        optional = schema is _NOTE or not schema.get("required")
        operation["requestBody"] = {"required": not optional, "content": content}
    return document
