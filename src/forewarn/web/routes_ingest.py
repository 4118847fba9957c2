"""POST /api/v1/{device_token}/telemetry (ThingsBoard-compatible) and POST /api/v1/ingest (forewarn batches).

Both normalise with :mod:`forewarn.protocols.http.telemetry`, go through the same pipeline as
HJ 212 and answer 200 only after the commit: a 200 means stored. Values that are not numbers
are refused one by one (counted as ``bad_value``) and listed in the answer; the rest is stored.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from forewarn.access import audit
from forewarn.access.roles import Action
from forewarn.access.users import User, device_for_token
from forewarn.model import Kind
from forewarn.protocols.http.telemetry import PayloadError, TelemetryRows, batch_rows, thingsboard_rows
from forewarn.store.base import DeviceInfo, IngestBatch, ReadingBatch, Rejection
from forewarn.store.registry_reads import device_reach, mn_of_device
from forewarn.web.auth import BEARER, require_user
from forewarn.web.body import read_json
from forewarn.web.context import ApiContext
from forewarn.web.durable import store_batch
from forewarn.web.problems import ApiProblem

__all__ = ["ingest", "telemetry"]


MAX_READINGS = 10_000


def _batch(ctx: ApiContext, out: TelemetryRows, devices: dict[str, DeviceInfo], now_ms: int) -> IngestBatch:
    batch = IngestBatch()
    for (mn, kind), rows in out.rows.items():
        batch.readings.append(ReadingBatch(devices[mn].id, Kind(kind), rows))
    for device in devices.values():
        batch.note_activity(device.id, now_ms, now_ms)
    first_mn = next(iter(devices), "")
    batch.rejections += [Rejection("bad_value", now_ms, first_mn, problem) for problem in out.problems]
    batch.counters["packets_accepted"] += 1
    batch.counters["http_posts_accepted"] += 1
    return batch


@post(
    "/api/v1/{device_token:str}/telemetry", tags=["ingest"], status_code=200,
    summary="Device telemetry (ThingsBoard-compatible)",
)
async def telemetry(
    device_token: FromPath[str], request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]
) -> dict[str, Any]:
    """Body: ``{"a34002-Rtd": 45.2}`` (sampled now), ``{"ts": <ms>, "values": {...}}``, or a list of those.

    Keys are HJ 212 names (``a34002`` is read as ``a34002-Rtd``; ``a34002-Flag`` is its flag).
    An empty body (``{}``) stores nothing and answers 200, as ThingsBoard does: its device SDK
    posts ``{}`` in ``connect()`` and sends its queued telemetry only after a 200.
    A 200 means stored: ``{"stored": n, "refused": [...]}`` lists values that were not numbers.
    The first value stored for a point and time is kept: sending it again changes nothing.
    """
    device_id = device_for_token(ctx.store.db, device_token)
    mn = None if device_id is None else mn_of_device(ctx.store.db, device_id)
    device = None if mn is None else ctx.pipeline.device(mn)
    if device is None:
        raise ApiProblem(401, "unknown device token: ask the platform's administrator for this device's token")
    payload = await read_json(request)
    now_ms = ctx.pipeline.now_ms()
    try:
        out = thingsboard_rows(payload, device.mn, now_ms, now_ms + int(ctx.settings.future_tolerance_s * 1000))
    except PayloadError as exc:
        raise ApiProblem(400, str(exc), title="Bad telemetry") from None
    if not out.rows and not out.problems:  # {}: ThingsBoard's connection test; the device is heard
        heard = IngestBatch()
        heard.note_activity(device.id, now_ms, now_ms)
        heard.counters["http_posts_empty"] += 1
        await store_batch(ctx.pipeline, heard)
        return {"stored": 0, "refused": []}
    await store_batch(ctx.pipeline, _batch(ctx, out, {device.mn: device}, now_ms))
    return {"stored": out.count, "refused": out.problems}


def _device_in_scope(ctx: ApiContext, user: User, mn: str) -> DeviceInfo:
    """The registered device ``mn`` if it lies in the user's scope; else 404 (the same either way)."""
    device = ctx.pipeline.device(mn)
    site = None if device is None else device_reach(ctx.store.db, mn)
    if device is None or site is None or not user.scope.allows_site(site[0], site[1]):
        raise ApiProblem(
            404, f"MN {mn} is not a registered device in your scope: register it first (forewarn registry import)",
            title="Unknown device", mn=mn,
        )
    return device


@post("/api/v1/ingest", tags=["ingest"], status_code=200, summary="A batch of readings", security=BEARER)
async def ingest(request: Request[Any, Any, Any], ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """Body: ``{"readings": [{"mn", "code", "field", "kind", "ts", "value", "flag"}, ...]}``.

    ``ts`` is epoch milliseconds or ISO 8601 with an offset. Needs the token of a user who may
    change the registry (city or district administrator); every MN must be a registered device
    in that user's scope, else nothing is stored. A 200 means stored; the first value stored for
    a point and time is kept (sending it again changes nothing), and each request is audited.
    """
    user = require_user(request, ctx, Action.WRITE_REGISTRY, doing=(
        "send readings with POST /api/v1/ingest: that takes a city or district administrator's token; "
        "a device sends its own with its device token (POST /api/v1/{device_token}/telemetry)"))
    payload = await read_json(request)
    now_ms = ctx.pipeline.now_ms()
    try:
        out = batch_rows(payload, now_ms + int(ctx.settings.future_tolerance_s * 1000))
    except PayloadError as exc:
        raise ApiProblem(400, str(exc), title="Bad batch") from None
    devices = {mn: _device_in_scope(ctx, user, mn) for mn, _ in out.rows}
    await store_batch(ctx.pipeline, _batch(ctx, out, devices, now_ms))
    summary = {"readings": out.count, "refused": len(out.problems), "mns": sorted(devices)}
    ctx.writer.submit_job(lambda store: store.run_in_transaction(
        lambda db: audit.record(db, user.name, "ingest", "readings", "batch", None, summary, "api")
    ))
    return {"stored": out.count, "refused": out.problems}
