"""What a user may see: one :class:`Scope`, applied beneath every query that reads sites.

A query that returns anything belonging to a site (sites, devices, readings, alarms) joins
``sites`` and is written with a ``{scope}`` placeholder in its WHERE clause; :func:`scoped`
fills it in from the scope and refuses SQL that lacks it, so a handler cannot forget::

    sql, params = scoped(
        "SELECT a.id FROM alarms a JOIN sites s ON s.id = a.site_id WHERE {scope} AND a.level >= ?",
        scope, [2],
    )
    rows = db.execute(sql, params).fetchall()

Regions are GB/T 2260 division codes: a region's own code cut after its last non-zero level
(city 451200 → ``4512``, county 451221 → ``451221``, province 450000 → ``45``) is the prefix of
every region under it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from forewarn.access.roles import Action, Role, allowed
from forewarn.store.dialect import SQLITE, Dialect

__all__ = ["PLACEHOLDER", "Scope", "ScopedQuery", "region_prefix", "scoped"]

PLACEHOLDER = "{scope}"
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: GB/T 2260 levels (province, city, county) and the township/village levels after them
_LEVELS = (2, 2, 2, 3, 3)


def region_prefix(code: str) -> str:
    """The prefix shared by a region's code and the codes of every region under it.

    ``451200`` → ``4512``; ``451221`` → ``451221``; ``450000`` → ``45``;
    ``451221100000`` (a township) → ``451221100``. A code that is not all digits is its own prefix.
    """
    code = code.strip()
    if not code.isdigit():
        return code
    parts: list[str] = []
    rest = code
    for width in _LEVELS:
        if not rest:
            break
        parts.append(rest[:width])
        rest = rest[width:]
    if rest:  # longer than any known level: take it whole
        return code
    while len(parts) > 1 and set(parts[-1]) == {"0"}:
        parts.pop()
    return "".join(parts)


class ScopedQuery(NamedTuple):
    """SQL and its parameters, ready for ``db.execute(*query)``."""

    sql: str
    params: list[object]


@dataclass(frozen=True)
class Scope:
    """A user's reach: role, region prefix (district admin, auditor), enterprise (enterprise user).

    Build it with :meth:`for_user` or directly; an inconsistent scope (a district administrator
    without a region, an enterprise user without an enterprise) cannot be built.
    """

    role: Role
    region_prefix: str | None = None
    enterprise_id: int | None = None

    def __post_init__(self) -> None:
        if self.role is Role.DISTRICT_ADMIN and not self.region_prefix:
            raise ValueError("a district administrator's scope needs a region")
        if self.role is Role.ENTERPRISE_USER and self.enterprise_id is None:
            raise ValueError("an enterprise user's scope needs an enterprise")
        if self.region_prefix is not None and not self.region_prefix:
            raise ValueError("an empty region prefix would mean every region; use None")

    @classmethod
    def for_user(cls, role: Role | str, region_code: str | None, enterprise_id: int | None) -> Scope:
        """The scope of a user with this role, region code and enterprise (as stored)."""
        role = Role(role)
        prefix = region_prefix(region_code) if region_code else None
        if role in (Role.DISTRICT_ADMIN, Role.AUDITOR):
            return cls(role, prefix, None)
        if role is Role.ENTERPRISE_USER:
            return cls(role, None, enterprise_id)
        return cls(role)

    # ------------------------------------------------------------------ rules

    def can(self, action: Action | str) -> bool:
        """Whether this role may take ``action`` at all (where: see :meth:`allows_site`)."""
        return allowed(self.role, Action(action))

    def reach(self) -> str:
        """How far this user sees, decided here once: ``all``, a ``region`` (its prefix), one
        ``enterprise``, or ``none`` (devices, and any new role until it is given a rule)."""
        role = self.role
        if role is Role.CITY_ADMIN:
            return "all"
        if role in (Role.DISTRICT_ADMIN, Role.AUDITOR):
            return "region" if self.region_prefix else "all"  # an auditor without a region reads everything
        if role is Role.ENTERPRISE_USER:
            return "enterprise"
        return "none"

    def _clause(self, alias: str, region_columns: Sequence[str], by_region: str, by_enterprise: str,
                dialect: Dialect) -> tuple[str, list[object]]:
        """The SQL for this user's reach. ``by_region`` holds ``{a}`` for the alias and one
        ``{0}``, ``{1}``... per entry of ``region_columns``, each replaced by the dialect's test that
        that column starts with the region prefix (exact and case-sensitive, as
        :meth:`allows_site` is); ``by_enterprise`` one ``?`` for the enterprise id."""
        if not _ALIAS.match(alias):
            raise ValueError(f"not an SQL alias: {alias!r}")
        reach = self.reach()
        if reach == "all":
            return "1 = 1", []
        if reach == "region":
            tests: list[str] = []
            params: list[object] = []
            for column in region_columns:
                test, test_params = dialect.starts_with(column.format(a=alias), self.region_prefix or "")
                tests.append(test)
                params.extend(test_params)
            return f"({by_region.format(*tests, a=alias)})", params
        if reach == "enterprise":
            return f"({by_enterprise.format(a=alias)})", [self.enterprise_id]
        return "1 = 0", []

    def sites_clause(self, site_alias: str = "s", dialect: Dialect = SQLITE) -> tuple[str, list[object]]:
        """An SQL boolean over ``site_alias`` (a row of ``sites``) true for the sites in scope."""
        return self._clause(site_alias, ["{a}.region_code"], "{0}", "{a}.enterprise_id = ?", dialect)

    def regions_clause(self, alias: str = "r", dialect: Dialect = SQLITE) -> tuple[str, list[object]]:
        """An SQL boolean over ``alias`` (a row of ``regions``) true for the regions in scope:
        a district's own region and those under it; an enterprise user's, the regions of its sites."""
        return self._clause(alias, ["{a}.code"], "{0}",
                            "{a}.code IN (SELECT region_code FROM sites WHERE enterprise_id = ?)", dialect)

    def enterprises_clause(self, alias: str = "e", dialect: Dialect = SQLITE) -> tuple[str, list[object]]:
        """An SQL boolean over ``alias`` (a row of ``enterprises``) true for the enterprises in
        scope: registered in the district, or with a site in it; an enterprise user's own."""
        return self._clause(alias, ["COALESCE({a}.region_code, '')", "region_code"],
                            "{0} OR {a}.id IN (SELECT enterprise_id FROM sites WHERE {1})",
                            "{a}.id = ?", dialect)

    def allows_region(self, code: str | None) -> bool:
        """Whether a region (and so an enterprise or site registered in it) is this user's to
        change: everything for a city administrator, the region and those under it for a district's."""
        if self.role is Role.CITY_ADMIN:
            return True
        if self.role is Role.DISTRICT_ADMIN:
            return code is not None and self.region_prefix is not None and code.startswith(self.region_prefix)
        return False

    def allows_site(self, region_code: str | None, enterprise_id: int | None) -> bool:
        """Whether a site in ``region_code`` of ``enterprise_id`` is in scope (as :meth:`sites_clause`)."""
        reach = self.reach()
        if reach == "all":
            return True
        if reach == "region":
            return region_code is not None and region_code.startswith(self.region_prefix or "\0")
        if reach == "enterprise":
            return enterprise_id is not None and enterprise_id == self.enterprise_id
        return False

def scoped(
    sql: str, scope: Scope, params: Sequence[object] = (), *, site_alias: str = "s", over: str = "sites",
    dialect: Dialect = SQLITE,
) -> ScopedQuery:
    """``sql`` with its one ``{scope}`` replaced by ``scope``'s clause over ``site_alias``.

    ``over`` says what ``site_alias`` is a row of: ``sites`` (the default), ``regions`` or
    ``enterprises`` (see :meth:`Scope.regions_clause`, :meth:`Scope.enterprises_clause`).

    ``params`` are the query's own ``?`` parameters in order; the clause's parameters are put
    where ``{scope}`` stands among them. SQL without exactly one ``{scope}`` is refused. The scope
    is a value until here: ``dialect`` (:mod:`forewarn.store.dialect`) compiles it, and the whole
    query, into the SQL of the store it runs on.
    """
    count = sql.count(PLACEHOLDER)
    if count != 1:
        raise ValueError(
            f"a scoped query needs exactly one {PLACEHOLDER} in its WHERE clause (found {count}): {sql[:80]!r}"
        )
    before, after = sql.split(PLACEHOLDER)
    if over == "sites":
        clause, clause_params = scope.sites_clause(site_alias, dialect)
    elif over == "regions":
        clause, clause_params = scope.regions_clause(site_alias, dialect)
    elif over == "enterprises":
        clause, clause_params = scope.enterprises_clause(site_alias, dialect)
    else:
        raise ValueError(f"scoped over {over!r}: use sites, regions or enterprises")
    at = _placeholders(before)
    total = at + _placeholders(after)
    if total != len(params):
        raise ValueError(f"the query has {total} '?' parameters but {len(params)} were given")
    args = list(params)
    return ScopedQuery(dialect.sql(before + clause + after), args[:at] + clause_params + args[at:])


def _placeholders(sql: str) -> int:
    """The ``?`` in ``sql`` outside quoted literals and identifiers."""
    count = 0
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif ch == "?":
            count += 1
    return count

