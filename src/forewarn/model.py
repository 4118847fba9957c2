"""Domain types shared by every layer.

A *reading* is the one thing every protocol adapter produces: which device sent it, which
factor code and sub-field it belongs to, which kind of data (real-time, minute, ...), when it
was sampled, its value and its HJ 212 data flag (see ``store.base.ReadingRow``). Each kind is
kept in its own table.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """The granularity of a reading; each kind is kept in its own table."""

    RTD = "rtd"  # CN 2011, real-time
    MINUTE = "minute"  # CN 2051
    HOUR = "hour"  # CN 2061
    DAY = "day"  # CN 2031
    STATUS = "status"  # CN 2021, facility running status (SBx-RS)
    RUNTIME = "runtime"  # CN 2041, facility daily running time (SBx-RT)


class Period(StrEnum):
    """A period forewarn computes its own values over from real-time data (``stats.aggregate``),
    finest first; hour, day and month boundaries are local time in ``Settings.timezone``."""

    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


#: HJ 212 data-upload commands and the kind of reading each carries.
KIND_BY_CN: dict[str, Kind] = {
    "2011": Kind.RTD,
    "2051": Kind.MINUTE,
    "2061": Kind.HOUR,
    "2031": Kind.DAY,
    "2021": Kind.STATUS,
    "2041": Kind.RUNTIME,
}


class SiteStatus(StrEnum):
    """A site's lifecycle as the environment bureau manages it (``registry.lifecycle`` holds the
    changes allowed between them, each with its date and reason). The pipeline refuses only a
    retired site's devices; the map shows maintenance and stopped sites apart from the rest."""

    NEW = "new"                  # registered, not yet commissioned
    ACTIVE = "active"            # in operation, judged as usual
    MAINTENANCE = "maintenance"  # under maintenance: its data may be unusual
    STOPPED = "stopped"          # production stopped (停产), e.g. ordered to stop
    RETIRED = "retired"          # closed for good; its history stays


class AlarmState(StrEnum):
    """Where an alarm is in its handling, in order (see ``alarms.workflow`` for the steps between)."""

    FIRING = "firing"              # raised, nobody has said they saw it
    ACKNOWLEDGED = "acknowledged"  # someone on duty saw it (escalation stops)
    DISPATCHED = "dispatched"      # a unit or person was sent
    CHECKED = "checked"            # the on-site check is recorded
    RESOLVED = "resolved"          # the cause is dealt with; waiting for review
    CLOSED = "closed"              # reviewed and closed


#: alarm levels: 1 is a rule's first stage, 4 the most severe (blue, yellow, orange, red)
ALARM_LEVELS = (1, 2, 3, 4)


class Domain(StrEnum):
    """What an alarm is about, as the alarm desk groups them: the first part of its rule id
    (``gas.lel`` is gas). A regulator's own rule joins a domain by its id (``gas.hechi_lel``);
    any other id is ``other``."""

    GAS = "gas"      # gas stations: combustible gas, tanks
    DUST = "dust"    # construction sites and factories: dust (TSP, PM10)
    FUME = "fume"    # restaurants: oil fume, fan and purifier
    POWER = "power"  # electricity of production lines and treatment facilities
    DQ = "dq"        # data quality: no data, flat line, zero, out of range, fault flags
    OTHER = "other"  # any other rule (platform-wide ones among them)


def domain_of(rule_id: str) -> Domain:
    """The domain of a rule id: its part before the first dot, when that names a domain."""
    head = rule_id.split(".", 1)[0]
    try:
        domain = Domain(head)
    except ValueError:
        return Domain.OTHER
    return Domain.OTHER if domain is Domain.OTHER or "." not in rule_id else domain


class ReportKind(StrEnum):
    """A report's length (``forewarn.reports``): a local day, month or year. The CLI
    (``forewarn report daily``), the API (``/api/v1/reports/daily``), the scheduler's file
    names and the statistics page use these words."""

    DAILY = "daily"
    MONTHLY = "monthly"
    ANNUAL = "annual"


class AuditReason(StrEnum):
    """Why data was marked invalid, or valid again, in data audit (数据审核). The labels
    (:data:`AUDIT_REASON_LABELS`) are what the dashboard, the CLI and reports show."""

    MAINTENANCE = "maintenance"                  # the device was being serviced
    CALIBRATION = "calibration"                  # zero/span calibration: test gas, not the air
    FAULT = "fault"                              # the device was faulty
    SUSPECTED_TAMPERING = "suspected_tampering"  # the data looks falsified (弄虚作假)
    MANUAL = "manual"                            # a reviewer's own judgement, said in the note


#: (zh, en) of each audit reason
AUDIT_REASON_LABELS: dict[AuditReason, tuple[str, str]] = {
    AuditReason.MAINTENANCE: ("维护", "maintenance"),
    AuditReason.CALIBRATION: ("校准", "calibration"),
    AuditReason.FAULT: ("故障", "fault"),
    AuditReason.SUSPECTED_TAMPERING: ("疑似弄虚作假", "suspected tampering"),
    AuditReason.MANUAL: ("人工判定", "manual judgement"),
}


class MarkTarget(StrEnum):
    """What a data-audit mark covers: one point, every point of a device, or of a site."""

    POINT = "point"
    DEVICE = "device"
    SITE = "site"
