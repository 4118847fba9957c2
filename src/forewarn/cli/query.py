"""Read-only commands: readings, status, devices unknown."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from typing import Any

from forewarn.alarms.queries import alarm_summary
from forewarn.cli.common import UserError, iso, open_store, parse_time, settings_from
from forewarn.logs import excerpt
from forewarn.model import Kind
from forewarn.store import registry_reads

__all__ = ["add_commands"]


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "readings", parents=[common], help="print stored readings of one device",
        description="Print one record per reading: mn, code, field, kind, ts, value, flag.",
    )
    p.add_argument("--mn", required=True, help="the device's MN")
    p.add_argument("--code", help="only this factor code (e.g. a34002)")
    p.add_argument("--kind", default="rtd", choices=[k.value for k in Kind])
    p.add_argument("--from", dest="from_", metavar="ISO", help="from this time (inclusive)")
    p.add_argument("--to", metavar="ISO", help="to this time (inclusive)")
    p.add_argument("--latest", action="store_true",
                   help="only the newest reading of each of the device's points")
    p.add_argument("--format", default="csv", choices=["csv", "json"])
    p.set_defaults(handler=readings)

    p = sub.add_parser("status", parents=[common], help="devices online, readings, rejections")
    p.add_argument("--format", default="text", choices=["text", "json"])
    p.set_defaults(handler=status)

    p = sub.add_parser("devices", parents=[common], help="device lists")
    dsub = p.add_subparsers(dest="devices_command", metavar="WHAT", required=True)
    u = dsub.add_parser(
        "unknown", parents=[common],
        help="devices that send data but are not registered (their data is quarantined)",
    )
    u.add_argument("--format", default="text", choices=["text", "json"])
    u.set_defaults(handler=unknown)
    t = dsub.add_parser(
        "token", parents=[common],
        help="issue an access token for a device that reports over HTTP or MQTT (ThingsBoard style; printed once)",
    )
    t.add_argument("mn", help="the device's MN")
    t.add_argument("--by", default="cli", help="who issues it, for the audit log")
    t.set_defaults(handler=device_token)


def readings(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    tz = settings.tz
    from_ms = parse_time(args.from_, tz, "--from")
    to_ms = parse_time(args.to, tz, "--to")
    if from_ms is not None and to_ms is not None and from_ms > to_ms:
        raise UserError("--from is after --to")
    with open_store(settings) as store:
        # retired devices included: their history stays readable
        if registry_reads.device_reach(store.db, args.mn) is None:
            known = store.unknown_devices()
            hint = " (it is in quarantine: register it to see its data)" if any(
                u.mn == args.mn for u in known) else ""
            raise UserError(f"no registered device with MN {args.mn}{hint}")
        kind = Kind(args.kind)
        out = sys.stdout
        writer = csv.writer(out, lineterminator="\n") if args.format == "csv" else None
        if writer is not None:
            writer.writerow(["mn", "code", "field", "kind", "ts", "value", "flag"])
        found = (
            (r for r in store.latest(kind, args.mn) if args.code in (None, r.code))
            if args.latest else store.readings(args.mn, kind, args.code, from_ms, to_ms)
        )
        for r in found:
            row = [r.mn, r.code, r.field, r.kind.value, iso(r.ts_ms, tz), r.value, r.flag]
            if writer is not None:
                writer.writerow(row)
            else:
                keys = ("mn", "code", "field", "kind", "ts", "value", "flag")
                out.write(json.dumps(dict(zip(keys, row, strict=True)), ensure_ascii=False) + "\n")
    return 0


#: devices listed under "quirks tolerated" (the JSON report has them all)
_QUIRK_DEVICES_SHOWN = 20


def status(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with open_store(settings) as store:
        report = store.status(int(time.time() * 1000), settings.offline_after_intervals)
        report.update(alarm_summary(store.db))
    if args.format == "json":
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(f"devices registered   {report['devices_registered']}")
    print(f"devices online       {report['devices_online']}")
    print(f"readings stored      {report['readings_stored']}")
    print(f"packets accepted     {report['packets_accepted']}")
    print(f"packets rejected     {report['packets_rejected']}")
    print(f"values rejected      {report['values_rejected']}")
    rejections = report["rejections"]
    assert isinstance(rejections, dict)
    for reason, info in rejections.items():
        # escaped again: a database written before the details were escaped may hold raw bytes
        print(f"  {reason:<20} {info['count']:>8}  last: MN={excerpt(info['last_mn'], 64)} "
              f"{excerpt(info['last_detail'], 160)}")
    quirks = report["quirks_tolerated"]
    assert isinstance(quirks, dict)
    if quirks:
        print("quirks tolerated     " + ", ".join(f"{k}={v}" for k, v in quirks.items()))
        by_device = report["quirks_by_device"]
        assert isinstance(by_device, dict)
        for mn, counts in list(by_device.items())[:_QUIRK_DEVICES_SHOWN]:  # most uses first
            print(f"  MN={excerpt(mn, 64):<26} " + " ".join(f"{k}={v}" for k, v in counts.items()))
        if len(by_device) > _QUIRK_DEVICES_SHOWN:
            print(f"  ... {len(by_device) - _QUIRK_DEVICES_SHOWN} more devices (forewarn status --format json)")
    print(f"unknown devices      {report['unknown_devices']} "
          f"({report['quarantined_packets']} packets in quarantine)")
    print(f"points discovered    {report['points_discovered']}")
    print(f"alarms open          {report['alarms_open']} (firing {report.get('alarms_firing', 0)}, "
          f"escalated {report['alarms_escalated']}, overdue {report['alarms_overdue']})")
    print(f"notices              {report['notices_pending']} waiting to be delivered, "
          f"{report['notices_given_up']} given up")
    return 0


def unknown(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with open_store(settings) as store:
        rows = store.unknown_devices()
    tz = settings.tz
    if args.format == "json":
        for u in rows:
            print(json.dumps({"mn": u.mn, "first_seen": iso(u.first_ms, tz),
                              "last_seen": iso(u.last_ms, tz), "packets": u.packets,
                              "last_peer": u.last_peer, "refused": u.refused}, ensure_ascii=False))
        return 0
    if not rows:
        print("no unknown devices")
        return 0
    print(f"{'MN':<26} {'first seen':<26} {'last seen':<26} {'packets':>8}  peer")
    for u in rows:
        print(f"{u.mn:<26} {iso(u.first_ms, tz):<26} {iso(u.last_ms, tz):<26} {u.packets:>8}  {u.last_peer}")
        if u.refused:
            print(f"{'':<26} registered, but refused: {u.refused}")
    print("register them with 'forewarn registry import FILE'; their data is kept until then")
    return 0


def device_token(args: argparse.Namespace) -> int:
    """The same use case as ``POST /api/v1/devices/{id}/tokens``: a token, audited, shown once."""
    from forewarn.access.users import issue_device_token

    settings = settings_from(args)
    with open_store(settings) as store:
        device = store.device_infos().get(args.mn)
        if device is None:
            raise UserError(f"no registered device with MN {args.mn} (register it first: forewarn registry import)")
        token = issue_device_token(store.db, device.id, actor=args.by, origin="cli")
    print(token)
    print(f"HTTP: POST /api/v1/{token}/telemetry; MQTT: user name {token} on forewarn's MQTT port "
          "(mqtt_listen), topic v1/devices/me/telemetry", file=sys.stderr)
    return 0

