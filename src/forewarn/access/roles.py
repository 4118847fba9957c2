"""Roles and what each may do: one table, read by :meth:`forewarn.access.scope.Scope.can`.

*Where* a role may do it (which regions, which enterprise) is the scope's business
(:mod:`forewarn.access.scope`); this table only says *what*.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["PERMISSIONS", "Action", "Role", "allowed"]


class Role(StrEnum):
    CITY_ADMIN = "city_admin"            # the whole platform, users included
    DISTRICT_ADMIN = "district_admin"    # their region and the regions under it
    ENTERPRISE_USER = "enterprise_user"  # their own enterprise's sites
    AUDITOR = "auditor"                  # reads (its region, or everything without one); marks data in audit
    DEVICE = "device"                    # pushes data with a token; reads nothing


class Action(StrEnum):
    READ = "read"                        # see sites, devices, readings, alarms
    WRITE_REGISTRY = "write_registry"    # add or change regions, enterprises, sites, devices, points
    HANDLE_ALARMS = "handle_alarms"      # acknowledge, dispatch, resolve, close, silence
    RECORD_CHECKS = "record_checks"      # record an on-site check (findings, measures, attachments)
    MANAGE_USERS = "manage_users"        # add users, reset passwords, disable, issue tokens
    #: list unknown devices (quarantine), claim them to a site, discard their packets. Only a city
    #: administrator: an unregistered MN belongs to no site and so to no region, so no district
    #: can be shown to own it; its packets (raw text, peer address) may come from anywhere.
    CLAIM_DEVICES = "claim_devices"
    #: read the audit log. It spans every region (users, tokens, imports), so a role scoped to a
    #: region reads it only when unscoped: city administrators and auditors without a region.
    READ_AUDIT = "read_audit"
    #: data audit: mark readings or a time range invalid (or valid again) with a reason, revoke a
    #: mark. It changes no reading, only what the statistics and judgements count, and every mark
    #: is audited and reversible: the work of the bureau's reviewers (auditors) and administrators,
    #: never of the enterprise whose data it is.
    AUDIT_DATA = "audit_data"


_A = Action
#: what each role may do, within its scope
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.CITY_ADMIN: frozenset(Action),
    Role.DISTRICT_ADMIN: frozenset({_A.READ, _A.WRITE_REGISTRY, _A.HANDLE_ALARMS, _A.RECORD_CHECKS, _A.AUDIT_DATA}),
    Role.ENTERPRISE_USER: frozenset({_A.READ, _A.RECORD_CHECKS}),
    Role.AUDITOR: frozenset({_A.READ, _A.READ_AUDIT, _A.AUDIT_DATA}),
    Role.DEVICE: frozenset(),
}


def allowed(role: Role, action: Action) -> bool:
    """Whether ``role`` may take ``action`` at all (anywhere in its scope)."""
    return action in PERMISSIONS[role]
