"""Unknown devices over HTTP: list the quarantine, read an MN's packets, claim it to a site, discard junk.

A packet from an MN the registry does not know is kept in quarantine (and answered, so the
device does not resend it). Claiming the MN registers it at a site and judges its quarantined
packets exactly as live ones: :func:`forewarn.ingest.claim.claim_quarantined`, the path of
``forewarn registry import`` and of a running server that notices a registry change.

Only a city administrator (``claim_devices``) may use these endpoints: an unknown MN belongs
to no site, so no district or enterprise can be shown to own it (see
:class:`forewarn.access.roles.Action`).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from forewarn.access import audit
from forewarn.access.roles import Action
from forewarn.catalogue import Catalogue
from forewarn.ingest.claim import OfflinePort, claim_quarantined
from forewarn.protocols.hj212.handler import Hj212Handler
from forewarn.registry.edit import ENTITIES, EditError, check_fields, create
from forewarn.store import quarantine_reads
from forewarn.store.sqlite import SqliteStore
from forewarn.times import iso
from forewarn.web.auth import BEARER, require_user
from forewarn.web.context import ApiContext
from forewarn.web.fields import read_object
from forewarn.web.problems import ApiProblem
from forewarn.web.reads import read
from forewarn.web.tables import DEFAULT_LIMIT, Format, Limit, Offset, check_page, table_response
from forewarn.web.writes import on_writer, write

__all__ = ["QUARANTINE_ROUTES", "claim_device", "discard_quarantine", "quarantine_list", "quarantine_packets"]

_LIST_COLUMNS = ("mn", "first_seen", "last_seen", "packets", "last_peer", "refused", "registered")
_PACKET_COLUMNS = ("id", "received", "peer", "refused", "raw", "format")
_CATALOGUE = Catalogue()


def _not_found(mn: str) -> ApiProblem:
    return ApiProblem(404, f"no quarantined packets of MN {mn} (see GET /api/v1/quarantine)",
                      title="Nothing in quarantine", mn=mn)


@get("/api/v1/quarantine", tags=["quarantine"], summary="Unknown devices: MNs with packets in quarantine",
     security=BEARER)
async def quarantine_list(
    request: Request[Any, Any, Any],
    ctx: NamedDependency[ApiContext],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    format_: Format = "",
) -> Response[Any]:
    """Each MN with packets in quarantine, the most recently heard first: first and last seen,
    how many packets, the address it last sent from, and why its packets are still refused
    (``refused``, set once the MN is registered but its packets do not pass: wrong password,
    a quirk it is not allowed). ``registered`` is true for such MNs. City administrators only."""
    require_user(request, ctx, Action.CLAIM_DEVICES)
    page = check_page(limit, offset)
    tz = ctx.settings.tz

    # groups up to 200,000 packets: on a reader thread, not on the loop
    rows, total = await read(ctx, lambda db: quarantine_reads.mns_in_quarantine(db, *page))
    items = [{"mn": mn, "first_seen": iso(first, tz), "last_seen": iso(last, tz), "packets": n, "last_peer": peer,
              "refused": refused or None, "registered": bool(known)}
             for mn, first, last, n, peer, refused, known in rows]
    return table_response(request, items, total, page, format_, columns=_LIST_COLUMNS, name="quarantine")


@get("/api/v1/quarantine/{mn:str}", tags=["quarantine"], summary="An unknown MN's quarantined packets",
     security=BEARER)
async def quarantine_packets(
    mn: FromPath[str],
    request: Request[Any, Any, Any],
    ctx: NamedDependency[ApiContext],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    format_: Format = "",
) -> Response[Any]:
    """The MN's packets, oldest first: ``raw`` is the frame as received, decoded as UTF-8 (bytes
    that are not UTF-8 show as U+FFFD), so you can see what the device is before claiming it."""
    require_user(request, ctx, Action.CLAIM_DEVICES)
    page = check_page(limit, offset)
    tz = ctx.settings.tz

    rows, total = await read(ctx, lambda db: quarantine_reads.mn_packets(db, mn, *page))
    if total == 0:
        raise _not_found(mn)
    items = [{"id": i, "received": iso(ms, tz), "peer": peer, "refused": refused or None,
              "raw": bytes(raw).decode("utf-8", "replace"), "format": fmt} for i, ms, peer, refused, raw, fmt in rows]
    return table_response(request, items, total, page, format_, columns=_PACKET_COLUMNS, name=f"quarantine-{mn}")


@post("/api/v1/quarantine/{mn:str}/claim", tags=["quarantine"], summary="Register an unknown MN at a site",
      security=BEARER, status_code=200)
async def claim_device(mn: FromPath[str], request: Request[Any, Any, Any],
                       ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """Body: ``{"site_id": N, "password": "...", "interval_s": 60, "leniency": "...", "device_kind": ""}``
    (only ``site_id`` is needed; ``password`` is the device's HJ 212 PW, empty: not checked).

    Registers the device and stores its quarantined packets as readings, judged exactly as live
    packets (the device is never asked to resend). Answers the new ``device`` and ``claim``:
    ``stored`` packets and those still ``refused`` with their reasons (e.g. a wrong password:
    they stay in quarantine until the registry is corrected). Audited. City administrators only."""
    user = require_user(request, ctx, Action.CLAIM_DEVICES)
    body = await read_object(request, ("site_id", "password", "interval_s", "leniency", "device_kind"))
    # checked as any new device is, before anything is looked up (a bad body is 400 whatever the MN)
    try:
        check_fields(ENTITIES["device"], {**body, "mn": mn}, _CATALOGUE, creating=True)
    except EditError as exc:
        raise ApiProblem(exc.status, exc.message) from None
    tz = ctx.settings.tz
    handler = Hj212Handler(OfflinePort(lambda: ctx.pipeline.now_ms() / 1000), tz,
                           future_tolerance_s=ctx.settings.future_tolerance_s,
                           strict=bool(ctx.settings.hj212_strict))

    def register(db: sqlite3.Connection) -> dict[str, Any]:
        if quarantine_reads.is_registered(db, mn):
            raise ApiProblem(409, f"MN {mn} is already registered; if its packets are still "
                                  "refused, correct its password or leniency in the registry", title="Registered")
        if not quarantine_reads.quarantined_any(db, mn):
            raise _not_found(mn)
        # the one way a device is created by hand (checks, reach, audit, registry version)
        try:
            device = create(db, ENTITIES["device"], {**body, "mn": mn, "protocol": "hj212"}, user.scope, _CATALOGUE,
                            actor=user.name, origin="api", action="claim")
        except EditError as exc:
            raise ApiProblem(exc.status, exc.message) from None
        return {**device, "password_set": bool(body.get("password")), "registered": iso(device["registered_ms"], tz)}

    def claim(store: SqliteStore) -> dict[str, Any]:
        box: list[dict[str, Any]] = []
        store.run_in_transaction(lambda db: box.append(register(db)))
        # a second transaction, as a registry import does: the device is registered even if the
        # claim fails, and the running server's registry watcher then claims again
        counts = claim_quarantined(store, handler, {mn: store.device_infos()[mn]})
        reasons = quarantine_reads.refusal_counts(store.db, mn)
        return {"device": box[0], "claim": {"stored": counts.claimed, "refused": counts.refused,
                                             "reasons": reasons}}

    out = await on_writer(ctx, claim)
    # the live path learns the device now rather than at the next registry poll
    await ctx.pipeline.reload_registry()
    return out


@delete("/api/v1/quarantine/{mn:str}", tags=["quarantine"], summary="Discard an MN's quarantined packets",
        security=BEARER, status_code=200)
async def discard_quarantine(mn: FromPath[str], request: Request[Any, Any, Any],
                             ctx: NamedDependency[ApiContext]) -> dict[str, Any]:
    """For junk (a test rig, a mistyped MN): its packets are deleted, counted in the audit log.
    A device that keeps sending fills the quarantine again. City administrators only."""
    user = require_user(request, ctx, Action.CLAIM_DEVICES)

    def work(db: sqlite3.Connection) -> dict[str, Any]:
        found = quarantine_reads.discard(db, mn)
        if found is None:
            raise _not_found(mn)
        first, last, count = found
        tz = ctx.settings.tz
        before = {"packets": count, "first_seen": iso(first, tz), "last_seen": iso(last, tz)}
        audit.record(db, user.name, "quarantine.discard", "quarantine", mn, before, {"packets": 0}, "api")
        return {"mn": mn, "discarded": count}

    return await write(ctx, work)


#: every handler of this module, for the app's route list
QUARANTINE_ROUTES = [quarantine_list, quarantine_packets, claim_device, discard_quarantine]
