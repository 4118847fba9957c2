"""``forewarn alarms``: list, show, and take each handling step; ``forewarn rules``.

The steps and silences are the alarm desk's own use cases (:mod:`forewarn.alarms.handling`),
the same the API and the dashboard call; here they run in the command's own transaction as
the person at the command line, who holds the database file and so every alarm.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import msgspec

from forewarn.access import audit
from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.alarms.handling import (
    Actor,
    HandlingError,
    SilenceInput,
    StepInput,
    add_silence,
    keep_attachments,
    take_step,
)
from forewarn.alarms.queries import alarm_detail, list_alarms
from forewarn.alarms.records import AlarmRecorder
from forewarn.alarms.views import Silence, StepAnswer
from forewarn.cameras.evidence import alarm_snapshots
from forewarn.cameras.snapshots import snapshot_path
from forewarn.cli.common import UserError, actor_name, iso, open_store, parse_time, settings_from
from forewarn.rules.files import RuleFileError, load_rules, preset_texts
from forewarn.rules.loader import load_effective_rules, number_versions, rule_files

__all__ = ["add_commands"]

_LIST_COLUMNS = ("id", "rule_id", "level", "state", "condition", "site_id", "enterprise", "site", "mn", "point",
                 "first_ts", "repeats", "explanation")


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("alarms", help="alarms and their handling")
    asub = p.add_subparsers(dest="alarms_command", metavar="ACTION", required=True)
    lang = argparse.ArgumentParser(add_help=False)
    lang.add_argument("--lang", default="zh", choices=["zh", "en"], help="language of explanations")

    ls = asub.add_parser("list", parents=[common, lang], help="alarms, newest first")
    ls.add_argument("--state", choices=["firing", "acknowledged", "dispatched", "checked", "resolved", "closed"])
    ls.add_argument("--level", type=int, choices=[1, 2, 3, 4])
    ls.add_argument("--site", type=int, metavar="ID", help="site id")
    ls.add_argument("--open", action="store_true", help="only alarms not yet closed")
    ls.add_argument("--format", default="text", choices=["text", "json", "csv"])
    ls.set_defaults(handler=list_cmd)

    show = asub.add_parser("show", parents=[common, lang], help="one alarm with its steps and evidence")
    show.add_argument("id", type=int)
    show.add_argument("--format", default="text", choices=["text", "json"])
    show.set_defaults(handler=show_cmd)

    actor = argparse.ArgumentParser(add_help=False)
    actor.add_argument("--by", default=None, metavar="NAME",
                       help="who takes the step (default $FOREWARN_USER or the login name)")
    actor.add_argument("--note", default="", help="a note for the record")
    for action, text in (("ack", "acknowledge"), ("resolve", "mark resolved"), ("close", "close after review")):
        a = asub.add_parser(action, parents=[common, actor], help=text)
        a.add_argument("id", type=int)
        a.set_defaults(handler=step_cmd, action=action)
    d = asub.add_parser("dispatch", parents=[common, actor], help="send a unit or person")
    d.add_argument("id", type=int)
    d.add_argument("--to", required=True, metavar="WHO")
    d.set_defaults(handler=step_cmd, action="dispatch")
    r = asub.add_parser("record", parents=[common, actor], help="record the on-site check")
    r.add_argument("id", type=int)
    r.add_argument("--findings", required=True, metavar="TEXT")
    r.add_argument("--measures", default="", metavar="TEXT")
    r.add_argument("--attach", action="append", default=[], type=Path, metavar="FILE")
    r.set_defaults(handler=step_cmd, action="record")
    c = asub.add_parser("comment", parents=[common, actor], help="add a comment (any state)")
    c.add_argument("id", type=int)
    c.add_argument("text")
    c.set_defaults(handler=step_cmd, action="comment")

    s = asub.add_parser("silence", parents=[common, actor], help="a maintenance window: record, don't announce")
    scope = s.add_mutually_exclusive_group(required=True)
    scope.add_argument("--mn", help="one device")
    scope.add_argument("--site", type=int, metavar="ID", help="one site")
    s.add_argument("--rule", default="", help="only this rule")
    s.add_argument("--from", dest="from_", metavar="ISO", help="start (default now)")
    s.add_argument("--until", required=True, metavar="ISO")
    s.set_defaults(handler=silence_cmd)

    p = sub.add_parser("rules", help="rule files: check, list, import, export")
    rsub = p.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    ck = rsub.add_parser("check", parents=[common], help="validate rule files; name the line of each error")
    ck.add_argument("files", nargs="+", type=Path, metavar="FILE")
    ck.set_defaults(handler=rules_check)
    rl = rsub.add_parser("list", parents=[common], help="the rules in force, with version and source")
    rl.set_defaults(handler=rules_list)
    ri = rsub.add_parser("import", parents=[common], help="check a rule file and put it in force")
    ri.add_argument("file", type=Path)
    ri.set_defaults(handler=rules_import)
    re_ = rsub.add_parser("export", parents=[common],
                          help="your own rule files as one file (importable elsewhere)")
    re_.add_argument("-o", "--output", type=Path)
    re_.add_argument("--with-presets", action="store_true", help="include the built-in presets (for reading)")
    re_.set_defaults(handler=rules_export)


def list_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with open_store(settings) as store:
        rows = list_alarms(store.db, state=args.state, level=args.level, site_id=args.site, open_only=args.open)
    tz = settings.tz
    for row in rows:
        row["explanation"] = row[f"explanation_{args.lang}"]
        row["first_ts"] = iso(row["first_ts"], tz)
    if args.format == "json":
        for row in rows:
            print(json.dumps({k: row[k] for k in _LIST_COLUMNS}, ensure_ascii=False))
    elif args.format == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(_LIST_COLUMNS)
        w.writerows([row[k] for k in _LIST_COLUMNS] for row in rows)
    else:
        if not rows:
            print("no alarms" if args.lang == "en" else "没有告警")
        for row in rows:
            print(f"#{row['id']:<5} {row['first_ts']} L{row['level']} {row['state']:<12} {row['rule_id']:<26} "
                  f"{row['enterprise']} {row['site']} {row['point']}  {row['explanation']}")
    return 0


def show_cmd(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with open_store(settings) as store:
        detail = alarm_detail(store.db, args.id)
        snapshots = alarm_snapshots(store.db, args.id, Scope(Role.CITY_ADMIN), settings.tz) or []
    if detail is None:
        raise UserError(f"no alarm {args.id}")
    tz = settings.tz
    detail["snapshots"] = msgspec.to_builtins(snapshots)  # the site's cameras when it fired (cameras/evidence.py)
    for key in ("first_ts", "last_ts", "cleared_ts", "created_ms", "updated_ms", "acked_ms", "closed_ms"):
        if detail[key] is not None:
            detail[key] = iso(detail[key], tz)
    for s in detail["steps"]:
        s["at"] = iso(s.pop("at_ms"), tz)
    for e in detail["evidence"]:
        e["ts"] = iso(e.pop("ts_ms"), tz)
    if args.format == "json":
        print(json.dumps(detail, ensure_ascii=False, indent=2))
        return 0
    zh = args.lang == "zh"
    print(f"#{detail['id']} {detail['title_' + args.lang]}  (rule {detail['rule_id']} v{detail['rule_version']}, "
          f"level {detail['level']}, {detail['state']}, condition {detail['condition']})")
    print(f"  {detail['enterprise']} {detail['site']} {detail['mn']} {detail['point']}")
    print(f"  {detail['explanation_' + args.lang]}")
    print(f"  {'首次' if zh else 'first'} {detail['first_ts']}  {'最近' if zh else 'last'} {detail['last_ts']}  "
          f"{'重复' if zh else 'repeats'} {detail['repeats']}")
    course = detail.get("course")
    if course is not None:
        print("  " + _course_line(course, tz, zh))
    print("steps:" if not zh else "处理记录：")
    for s in detail["steps"]:
        extra = f" {json.dumps(s['data'], ensure_ascii=False)}" if s["data"] else ""
        print(f"  {s['at']}  {s['step']:<12} {s['actor']:<10} {s['note']}{extra}")
    print("evidence:" if not zh else "证据数据：")
    for e in detail["evidence"][-20:]:
        print(f"  {e['ts']}  {e['code']}-{e['field']} = {e['value']} ({e['flag']})")
    if snapshots:
        print("snapshots:" if not zh else "现场快照：")
    for shot in snapshots:
        kept = snapshot_path(settings.snapshots_path, args.id, shot.sha256) if shot.sha256 else None
        print(f"  {shot.taken}  {shot.camera}  " + (f"sha256 {shot.sha256}  {shot.size} B  {kept}" if kept
                                                    else shot.error))
    return 0


def _course_line(course: dict[str, Any], tz: Any, zh: bool) -> str:
    """The episode in one line: when it began, how long it lasted (or that it goes on), its peak."""
    minutes = course["duration_ms"] / 60_000
    start = iso(int(course["start_ts_ms"]), tz)
    if zh:
        line = f"过程 {start} 起 {minutes:.1f} 分钟" + ("（仍在持续）" if course["ongoing"] else "")
    else:
        line = f"episode from {start}, {minutes:.1f} min" + (" (ongoing)" if course["ongoing"] else "")
    peak = course["peak"]
    if peak is not None:
        word = ("最低" if zh else "lowest") if peak["low"] else ("峰值" if zh else "peak")
        line += (f"  {word} {peak['value']:g} {peak['unit']} ({peak['code']}-{peak['field']}, "
                 f"{iso(int(peak['ts_ms']), tz)})")
    return line


def step_cmd(args: argparse.Namespace) -> int:
    """A handling step by the person at the command line: the same use case as the API's
    (:func:`forewarn.alarms.handling.take_step`), audited with origin ``cli``."""
    settings = settings_from(args)
    files = []
    for path in getattr(args, "attach", []):
        if not path.is_file():
            raise UserError(f"attachment {path} is not a file")
        files.append((path.name, path.read_bytes()))
    try:
        kept = keep_attachments(files, settings.attachments_path / str(args.id)) if files else []
    except HandlingError as exc:
        raise UserError(exc.detail) from None
    step = StepInput(args.action, note=getattr(args, "text", "") or args.note, to=getattr(args, "to", "") or "",
                     findings=getattr(args, "findings", "") or "", measures=getattr(args, "measures", "") or "",
                     attachments=kept)
    actor = Actor.operator(actor_name(args.by))
    recorder = AlarmRecorder(settings.tz, _route(settings), time.time)
    answers: list[StepAnswer] = []
    with open_store(settings) as store:
        try:
            store.run_in_transaction(lambda db: answers.append(take_step(
                db, actor, args.id, step, int(time.time() * 1000), recorder=recorder, tz=settings.tz)))
        except HandlingError as exc:
            raise UserError(exc.detail) from None
    print(f"alarm {args.id}: {answers[0].state}")
    return 0


def _route(settings: Any) -> Any:
    from forewarn.alarms.notify import load_notify_config

    path = settings.notify_path
    return load_notify_config(path).channels_for if path.exists() else None


def silence_cmd(args: argparse.Namespace) -> int:
    """A maintenance window (:func:`forewarn.alarms.handling.add_silence`, as the API's); it may
    lie in the past, for data that arrives after the fact."""
    settings = settings_from(args)
    now = int(time.time() * 1000)
    until = parse_time(args.until, settings.tz, "--until")
    assert until is not None
    spec = SilenceInput(mn=args.mn, site_id=args.site, until_ms=until,
                        from_ms=parse_time(args.from_, settings.tz, "--from"), rule_id=args.rule, note=args.note)
    actor = Actor.operator(actor_name(args.by))
    made: list[Silence] = []
    with open_store(settings) as store:
        try:
            store.run_in_transaction(lambda db: made.append(add_silence(db, actor, spec, now, tz=settings.tz,
                                                                        past_allowed=True)))
        except HandlingError as exc:
            raise UserError(exc.detail.replace('"until"', "--until")) from None
    print(f"silenced {args.mn or 'site ' + str(args.site)} until {made[0].until}")
    return 0


def rules_check(args: argparse.Namespace) -> int:
    try:
        ruleset = load_rules(list(args.files))
    except RuleFileError as exc:
        raise UserError(str(exc)) from None
    own = len(ruleset.rules) - len(load_rules([]).rules)
    print(f"ok: {len(ruleset.rules)} rules in force ({own} new beyond the presets), "
          f"{len(ruleset.overrides)} overrides")
    return 0


def rules_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    try:
        ruleset = load_effective_rules(settings.rules_path)
    except RuleFileError as exc:
        raise UserError(str(exc)) from None
    with open_store(settings, create=True) as store:
        versions = number_versions(ruleset, store.rule_version)
    for rule in sorted(ruleset.rules.values(), key=lambda r: r.id):
        mark = "" if rule.enabled else "  (disabled)"
        print(f"{rule.id:<28} v{versions[rule.id]:<3} {rule.kind:<16} L{rule.level} {rule.title_zh}{mark}")
        print(f"{'':<28} source: {rule.source}")
    return 0


def rules_import(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    folder = settings.rules_path
    try:
        load_rules([*rule_files(folder), args.file])
    except RuleFileError as exc:
        raise UserError(str(exc)) from None
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / args.file.name
    before = target.read_text(encoding="utf-8") if target.exists() else None
    text = args.file.read_text(encoding="utf-8")
    shutil.copyfile(args.file, target)
    with open_store(settings, create=True) as store:  # who put which rules in force, with the text
        store.run_in_transaction(lambda db: audit.record(
            db, actor_name(), "rules.import", "rule_file", target.name,
            None if before is None else {"text": before}, {"text": text, "from": str(args.file)}, "cli"))
    print(f"{args.file} checked and put in force as {target}; a running server picks it up within seconds")
    return 0


def rules_export(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    parts = []
    if args.with_presets:
        parts += [f"# ---- preset: {name}\n{text}" for name, text in preset_texts().items()]
    parts += [f"# ---- {path.name}\n{path.read_text(encoding='utf-8')}" for path in rule_files(settings.rules_path)]
    if not parts:
        parts = ["# no rule files of your own: the presets are in force (rules export --with-presets)\n"]
    text = "\n".join(parts)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0

