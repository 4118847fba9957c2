"""Changing the registry one entity at a time (the HTTP API's create, update and retire).

Regions, enterprises, sites, devices and points are described once, as data
(:data:`ENTITIES`): their columns, which a client may set, how each is checked, and how an
entity finds the region that decides who may change it. One set of functions serves them
all, so every entity is checked, scoped, audited and versioned the same way:

- every function runs inside the caller's transaction (on the writer thread) and reads the
  truth from that connection, so a check and the write it guards cannot race;
- a user may only change what lies in their reach (:meth:`Scope.allows_region`), before and
  after the change: a district cannot move a site out of its region or into another's;
- something outside the user's scope is "not found" (404), never "forbidden", so that ids
  do not leak what exists elsewhere;
- every change is in the audit log with the entity before and after (passwords never);
- every change bumps the registry version, so the running pipeline reloads its devices.

Retiring keeps the row and its history (readings, alarms); a retired device is no longer
accepted by the pipeline (its packets go to quarantine, where nothing is lost).
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from forewarn.access import audit
from forewarn.access.scope import Scope, region_prefix, scoped
from forewarn.catalogue import Catalogue
from forewarn.model import SiteStatus
from forewarn.registry.files import BAD_ID_CHARS, PROTOCOLS, QUIRKS, division_code_problem, nesting_problem
from forewarn.registry.lifecycle import record_change, transition_problem

__all__ = ["ENTITIES", "EditError", "Entity", "Field", "check_fields", "create", "get_one", "retire", "update"]


class EditError(Exception):
    """A change that cannot be made: an HTTP-like status and a message for the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Check = Callable[[Any, Catalogue], tuple[Any, str | None]]


@dataclass(frozen=True)
class Field:
    """One column a client may send: its JSON type, whether a create needs it, its check."""

    name: str
    kind: type
    required: bool = False
    nullable: bool = False
    #: may be changed after creation (identity columns such as an MN may not)
    mutable: bool = True
    #: turns a checked value into the stored one, or says what is wrong
    check: Check | None = None
    #: never returned nor audited (a device's password)
    secret: bool = False
    #: not changed by a PATCH: how to change it instead (a site's status follows its lifecycle)
    changed_by: str = ""


@dataclass(frozen=True)
class Entity:
    name: str
    table: str
    #: the primary key column: "id", or "code" for regions
    key: str
    fields: tuple[Field, ...]
    #: SELECT of one entity's public columns, scoped: ``{scope}`` and ``<alias>.<key> = ?``
    select: str
    over: str
    alias: str
    #: the region that decides who may change the entity, from its stored or proposed columns
    region_of: Callable[[sqlite3.Connection, Mapping[str, Any]], str | None]
    statuses: tuple[str, ...] = ("active", "retired")
    #: the column its audit entries are keyed by: a device's MN, which is what people search
    #: the log for (and what an import and a claim record), else the key
    audit_key: str = ""

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


# ------------------------------------------------------------------ checks


def _text(limit: int, *, ident: bool = False) -> Check:
    def check(value: Any, _: Catalogue) -> tuple[Any, str | None]:
        text = str(value).strip()
        if not text:
            return None, "is empty"
        if len(text) > limit:
            return None, f"is longer than {limit} characters"
        if ident and (set(text) & BAD_ID_CHARS or not (text.isascii() and text.isprintable())):
            return None, "must be printable ASCII without ; , & = (HJ 212 separators)"
        if not text.isprintable():
            return None, "holds a control character (a line break, tab or NUL): remove it"
        return text, None
    return check


def _division(value: Any, _: Catalogue) -> tuple[Any, str | None]:
    text = str(value).strip()
    problem = division_code_problem(text)
    return (None, problem.split(" ", 2)[-1]) if problem else (text, None)


def _site_type(value: Any, catalogue: Catalogue) -> tuple[Any, str | None]:
    found = catalogue.site_type_id(str(value))
    if found is None:
        return None, f"{value!r} is unknown (one of: {', '.join(catalogue.site_types)})"
    return found, None


def _between(low: float, high: float) -> Check:
    def check(value: Any, _: Catalogue) -> tuple[Any, str | None]:
        number = float(value)
        if not math.isfinite(number) or not low <= number <= high:
            return None, f"must be a number from {low:g} to {high:g}"
        return number, None
    return check


def _positive_int(value: Any, _: Catalogue) -> tuple[Any, str | None]:
    if not 0 < int(value) <= 86400 * 31:
        return None, "must be a whole number of seconds from 1 to 2678400"
    return int(value), None


def _finite(value: Any, _: Catalogue) -> tuple[Any, str | None]:
    number = float(value)
    return (number, None) if math.isfinite(number) else (None, "must be a finite number")


def _protocol(value: Any, _: Catalogue) -> tuple[Any, str | None]:
    if value in PROTOCOLS:
        return value, None
    return None, f"{value!r} is not supported (one of: {', '.join(PROTOCOLS)})"


def _leniency(value: Any, _: Catalogue) -> tuple[Any, str | None]:
    names = [q.strip() for q in str(value).replace(",", "|").split("|") if q.strip()]
    bad = [q for q in names if q not in QUIRKS]
    if bad:
        return None, f"{'|'.join(bad)} unknown (known: {', '.join(sorted(QUIRKS))})"
    return "|".join(names), None


def _password(value: Any, _: Catalogue) -> tuple[Any, str | None]:
    text = str(value)
    if len(text) > 64 or set(text) & BAD_ID_CHARS:
        return None, "may not hold ; , & = or exceed 64 characters"
    return text, None


def _status(*allowed: str) -> Check:
    def check(value: Any, _: Catalogue) -> tuple[Any, str | None]:
        return (value, None) if value in allowed else (None, f"must be one of {', '.join(allowed)}")
    return check


# ------------------------------------------------------------------ the entities


def _region_itself(db: sqlite3.Connection, row: Mapping[str, Any]) -> str | None:
    code = row.get("code")
    return str(code) if code is not None else None


def _region_column(db: sqlite3.Connection, row: Mapping[str, Any]) -> str | None:
    code = row.get("region_code")
    return str(code) if code is not None else None


def _region_of_site(db: sqlite3.Connection, row: Mapping[str, Any]) -> str | None:
    found = db.execute("SELECT region_code FROM sites WHERE id = ?", (row.get("site_id"),)).fetchone()
    return found[0] if found else None


def _region_of_device(db: sqlite3.Connection, row: Mapping[str, Any]) -> str | None:
    found = db.execute(
        "SELECT s.region_code FROM devices d JOIN sites s ON s.id = d.site_id WHERE d.id = ?", (row.get("device_id"),)
    ).fetchone()
    return found[0] if found else None


ENTITIES: dict[str, Entity] = {
    "region": Entity(
        "region", "regions", "code",
        (
            Field("code", str, required=True, mutable=False, check=_division),
            Field("name", str, required=True, check=_text(100)),
            Field("parent_code", str, nullable=True, check=_division),
            Field("status", str, check=_status("active", "retired")),
        ),
        "SELECT r.code, r.name, r.parent_code, r.status FROM regions r WHERE r.code = ? AND {scope}",
        "regions", "r", _region_itself,
    ),
    "enterprise": Entity(
        "enterprise", "enterprises", "id",
        (
            Field("name", str, required=True, check=_text(200)),
            Field("region_code", str, required=True, check=_division),
            Field("status", str, check=_status("active", "retired")),
        ),
        "SELECT e.id, e.name, e.region_code, e.status FROM enterprises e WHERE e.id = ? AND {scope}",
        "enterprises", "e", _region_column,
    ),
    "site": Entity(
        "site", "sites", "id",
        (
            Field("enterprise_id", int, required=True),
            Field("name", str, required=True, check=_text(200)),
            Field("site_type", str, required=True, check=_site_type),
            Field("region_code", str, required=True, check=_division),
            Field("longitude", float, nullable=True, check=_between(-180, 180)),
            Field("latitude", float, nullable=True, check=_between(-90, 90)),
            Field("status", str, check=_status(*SiteStatus),
                  changed_by="change it with POST /api/v1/sites/{id}/lifecycle, with the date and reason"),
        ),
        "SELECT s.id, s.enterprise_id, e.name AS enterprise, s.name, s.site_type, s.region_code, "
        "r.name AS region_name, s.longitude, s.latitude, s.status FROM sites s "
        "JOIN enterprises e ON e.id = s.enterprise_id LEFT JOIN regions r ON r.code = s.region_code "
        "WHERE s.id = ? AND {scope}",
        "sites", "s", _region_column, tuple(SiteStatus),
    ),
    "device": Entity(
        "device", "devices", "id",
        (
            Field("site_id", int, required=True),
            Field("mn", str, required=True, mutable=False, check=_text(64, ident=True)),
            Field("password", str, check=_password, secret=True),
            Field("protocol", str, check=_protocol),
            Field("interval_s", int, check=_positive_int),
            Field("leniency", str, check=_leniency),
            Field("device_kind", str, check=_text(64)),
            Field("status", str, check=_status("active", "retired")),
        ),
        "SELECT d.id, d.mn, d.site_id, s.name AS site, e.name AS enterprise, s.region_code, d.protocol, "
        "d.interval_s, d.leniency, d.device_kind, d.status, d.registered_ms, a.last_ms AS last_seen_ms "
        "FROM devices d JOIN sites s ON s.id = d.site_id JOIN enterprises e ON e.id = s.enterprise_id "
        "LEFT JOIN device_activity a ON a.device_id = d.id WHERE d.id = ? AND {scope}",
        "sites", "s", _region_of_site, audit_key="mn",
    ),
    "point": Entity(
        "point", "points", "id",
        (
            Field("device_id", int, required=True, mutable=False),
            Field("code", str, required=True, mutable=False, check=_text(32, ident=True)),
            Field("field", str, required=True, mutable=False, check=_text(32, ident=True)),
            Field("name", str, check=_text(100)),
            Field("quantity", str, check=_text(64)),
            Field("unit", str, check=_text(32)),
            Field("lower", float, nullable=True, check=_finite),
            Field("upper", float, nullable=True, check=_finite),
            Field("role", str, check=_text(64)),
            Field("status", str, check=_status("active", "retired")),
        ),
        "SELECT p.id, p.device_id, d.mn, p.code, p.field, p.name, p.quantity, p.unit, p.lower, p.upper, p.role, "
        "p.discovered, p.status FROM points p JOIN devices d ON d.id = p.device_id JOIN sites s ON s.id = d.site_id "
        "WHERE p.id = ? AND {scope}",
        "sites", "s", _region_of_device,
    ),
}


# ------------------------------------------------------------------ operations


def get_one(db: sqlite3.Connection, entity: Entity, key: object, scope: Scope) -> dict[str, Any] | None:
    """The entity as the user may see it, or None when it does not exist or is out of scope."""
    cur = db.execute(*scoped(entity.select, scope, [key], site_alias=entity.alias, over=entity.over))
    row = cur.fetchone()
    if row is None:
        return None
    found = dict(zip([c[0] for c in cur.description], row, strict=True))
    if "discovered" in found:  # SQLite answers 0/1; the API answers true/false, as the lists do
        found["discovered"] = bool(found["discovered"])
    return found


def check_fields(entity: Entity, body: Mapping[str, Any], catalogue: Catalogue, *, creating: bool) -> dict[str, Any]:
    """The body's values, each checked; every mistake at once (400)."""
    if not isinstance(body, Mapping):
        raise EditError(400, f"send a JSON object with the {entity.name}'s fields")
    problems: list[str] = []
    values: dict[str, Any] = {}
    known = {f.name for f in entity.fields}
    for name in body:
        if name not in known:
            problems.append(f"{name}: not a field of a {entity.name} (fields: {', '.join(sorted(known))})")
    for f in entity.fields:
        if f.name not in body:
            if creating and f.required:
                problems.append(f"{f.name}: required")
            continue
        value = body[f.name]
        if not creating and f.changed_by:
            problems.append(f"{f.name}: {f.changed_by}")
            continue
        if not creating and not f.mutable:
            problems.append(f"{f.name}: cannot be changed once created (create a new {entity.name} instead)")
            continue
        if value is None:
            if f.nullable:
                values[f.name] = None
            else:
                problems.append(f"{f.name}: may not be null")
            continue
        ok_type = (isinstance(value, int | float) and not isinstance(value, bool)) if f.kind is float else (
            isinstance(value, f.kind) and not isinstance(value, bool))
        if not ok_type:
            wanted = {float: "number", int: "whole number", str: "string"}[f.kind]
            problems.append(f"{f.name}: must be a {wanted}")
            continue
        if f.kind is int and not -(2**62) < value < 2**62:
            problems.append(f"{f.name}: out of range")
            continue
        if f.check is not None:
            value, problem = f.check(value, catalogue)
            if problem:
                problems.append(f"{f.name}: {problem}")
                continue
        values[f.name] = value
    if problems:
        raise EditError(400, "; ".join(problems))
    if not creating and not values:
        raise EditError(400, f"nothing to change: send one or more of {', '.join(sorted(known))}")
    return values


def _public(entity: Entity, row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not (entity.field(k) and entity.field(k).secret)}  # type: ignore[union-attr]


def _stored(db: sqlite3.Connection, entity: Entity, key: object) -> dict[str, Any] | None:
    cur = db.execute(f"SELECT * FROM {entity.table} WHERE {entity.key} = ?", (key,))
    row = cur.fetchone()
    return None if row is None else dict(zip([c[0] for c in cur.description], row, strict=True))


def _reach(db: sqlite3.Connection, entity: Entity, row: Mapping[str, Any], scope: Scope) -> None:
    """403 unless the region that owns ``row`` is the user's to change."""
    region = entity.region_of(db, row)
    if not scope.allows_region(region):
        raise EditError(403, f"this {entity.name} would lie in region {region or '(none)'}, outside yours "
                             f"({scope.region_prefix or 'none'}): a city administrator can do it")


def _references(db: sqlite3.Connection, entity: Entity, values: Mapping[str, Any], scope: Scope) -> None:
    """Every id the values point at must exist and be visible to the user: else 404, as for an
    id in the path (out of scope is "not found", so that ids tell nothing of what exists)."""
    refs = {"enterprise_id": "enterprise", "site_id": "site", "device_id": "device"}
    for column, target in refs.items():
        if column in values and get_one(db, ENTITIES[target], values[column], scope) is None:
            raise EditError(404, f"{column}: no {target} {values[column]} in your scope")
    for column in ("region_code", "parent_code"):
        code = values.get(column)
        if code and db.execute("SELECT 1 FROM regions WHERE code = ?", (code,)).fetchone() is None:
            raise EditError(400, f"{column}: no region {code}; create it first (POST /api/v1/regions)")


def parent_problem(code: str, parent: str | None, scope: Scope, db: sqlite3.Connection, *, explicit: bool = True
                   ) -> str | None:
    """What is wrong with placing region ``code`` under ``parent``, or None.

    GB/T 2260 codes nest: a region's code starts with its parent's prefix (451221 under 451200,
    never under 140200), which also rules out a region under itself or a cycle. A district
    administrator may place regions only within their own region, and may not move the region
    their reach starts from (its parent lies outside their reach by definition). ``explicit``:
    the parent is being set (an empty parent in a sheet keeps the stored one).
    """
    nesting = nesting_problem(code, parent or "")
    if nesting:
        return f"cannot lie under {parent} (GB/T 2260 codes nest: {nesting})"
    if explicit and scope.region_prefix is not None and region_prefix(code) == scope.region_prefix:
        stored = db.execute("SELECT parent_code FROM regions WHERE code = ?", (code,)).fetchone()
        if stored is not None and (stored[0] or None) != (parent or None):
            return "is the region your reach starts from: only a city administrator can move it"
    return None


def _placement(db: sqlite3.Connection, entity: Entity, code: object, values: Mapping[str, Any], scope: Scope) -> None:
    """A region's parent, when set, must nest (see :func:`parent_problem`); a district cannot
    retire the region its reach starts from (nor bring it back)."""
    if entity.name != "region":
        return
    if "status" in values and scope.region_prefix is not None and region_prefix(str(code)) == scope.region_prefix:
        raise EditError(403, f"region {code} is the region your reach starts from: only a city administrator "
                             "can retire it or bring it back")
    if "parent_code" not in values:
        return
    problem = parent_problem(str(code), values["parent_code"], scope, db)
    if problem:
        raise EditError(400 if "nest" in problem else 403, f"region {code} {problem}")


def _check_limits(point: Mapping[str, Any]) -> None:
    lower, upper = point.get("lower"), point.get("upper")
    if lower is not None and upper is not None and lower > upper:
        raise EditError(400, f"lower {lower} is above upper {upper}")


def _bump(db: sqlite3.Connection) -> None:
    db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'registry_version'")


def create(db: sqlite3.Connection, entity: Entity, body: Mapping[str, Any], scope: Scope, catalogue: Catalogue,
           *, actor: str, origin: str, action: str = "create") -> dict[str, Any]:
    """Create one entity (inside the caller's transaction); return it as the user sees it.

    The one way a device, site or any other entity is created by hand: the API's POST, a
    quarantined MN claimed to a site (``action="claim"``) and the dashboard all come here."""
    values = check_fields(entity, body, catalogue, creating=True)
    _references(db, entity, values, scope)
    _reach(db, entity, values, scope)
    _placement(db, entity, values["code"] if entity.key == "code" else None, values, scope)
    now = int(time.time() * 1000)
    if entity.name == "device":
        values["registered_ms"] = now
    elif entity.name == "point":
        values["created_ms"] = now
        # what the catalogue knows of the code and sub-field, as an import or discovery would:
        # the rules find their points by quantity, so a point without one is never judged
        template = catalogue.point_template(values["code"], values["field"])
        values.setdefault("name", template.name_zh)
        values.setdefault("quantity", template.quantity)
        values.setdefault("unit", template.unit)
        _check_limits(values)
    columns = list(values)
    try:
        cur = db.execute(
            f"INSERT INTO {entity.table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            [values[c] for c in columns],
        )
    except sqlite3.IntegrityError as exc:
        raise _duplicate(entity, exc) from None
    key = values["code"] if entity.key == "code" else int(cur.lastrowid or 0)
    stored = _stored(db, entity, key)
    assert stored is not None
    found = get_one(db, entity, key, scope)
    if found is None:  # created where the user cannot see it: _reach forbids that
        raise EditError(403, f"this {entity.name} would be outside your scope")
    # the entity as it is seen (a device with its site, enterprise and region), secrets never
    audit.record(db, actor, f"{entity.name}.{action}", entity.name, stored[entity.audit_key or entity.key], None,
                 _public(entity, found), origin, at_ms=now)
    if entity.name == "site":  # its lifecycle starts here
        record_change(db, int(key), None, str(stored["status"]), effective_ms=now, reason="registered", actor=actor,
                      origin=origin, at_ms=now)
    _bump(db)
    return found


def update(db: sqlite3.Connection, entity: Entity, key: object, body: Mapping[str, Any], scope: Scope,
           catalogue: Catalogue, *, actor: str, origin: str, action: str = "update", retiring: str = ""
           ) -> dict[str, Any]:
    """Change some columns of one entity; the user must reach it before and after (404/403).
    ``retiring``: the reason a site is retired (its status otherwise follows its lifecycle)."""
    if get_one(db, entity, key, scope) is None:
        raise EditError(404, f"no {entity.name} {key} in your scope")
    values = {"status": "retired"} if retiring else check_fields(entity, body, catalogue, creating=False)
    before = _stored(db, entity, key)
    assert before is not None
    _reach(db, entity, before, scope)
    _references(db, entity, values, scope)
    after_row = {**before, **values}
    _reach(db, entity, after_row, scope)
    _placement(db, entity, key, values, scope)
    if entity.name == "point":
        _check_limits(after_row)
    if entity.name == "site" and "status" in values:
        problem = transition_problem(str(before["status"]), values["status"])
        if problem:
            raise EditError(409, problem)
    sets = ", ".join(f"{c} = ?" for c in values)
    try:
        db.execute(f"UPDATE {entity.table} SET {sets} WHERE {entity.key} = ?", [*values.values(), key])
    except sqlite3.IntegrityError as exc:
        raise _duplicate(entity, exc) from None
    after = _stored(db, entity, key)
    assert after is not None
    public_before, public_after = _public(entity, before), _public(entity, after)
    if any(entity.field(c) is not None and entity.field(c).secret for c in values):  # type: ignore[union-attr]
        public_after["password"] = "(changed)"
    now = int(time.time() * 1000)
    audit.record(db, actor, f"{entity.name}.{action}", entity.name, before[entity.audit_key or entity.key],
                 public_before, public_after, origin, at_ms=now)
    if entity.name == "site" and "status" in values:
        record_change(db, int(str(key)), str(before["status"]), values["status"], effective_ms=now, reason=retiring,
                      actor=actor, origin=origin, at_ms=now)
    _bump(db)
    found = get_one(db, entity, key, scope)
    assert found is not None
    return found


def retire(db: sqlite3.Connection, entity: Entity, key: object, scope: Scope, catalogue: Catalogue, *,
           actor: str, origin: str, reason: str = "") -> dict[str, Any]:
    """Retire one entity: its status becomes ``retired``; rows, readings and alarms stay
    (``PATCH {"status": "active"}`` brings it back; a site: its lifecycle, which keeps ``reason``)."""
    if entity.name == "site":
        return update(db, entity, key, {}, scope, catalogue, actor=actor, origin=origin, action="retire",
                      retiring=reason or "retired")
    return update(db, entity, key, {"status": "retired"}, scope, catalogue, actor=actor, origin=origin,
                  action="retire")


def _duplicate(entity: Entity, exc: sqlite3.IntegrityError) -> EditError:
    article = "An" if entity.name[0] in "aeiou" else "A"
    return EditError(409, f"{article} {entity.name} like this exists already ({_unique_hint(exc)})")


def _unique_hint(exc: sqlite3.IntegrityError) -> str:
    text = str(exc)
    if "UNIQUE" in text:
        return "the same " + text.split(":", 1)[-1].strip().replace(",", " and")
    return text
