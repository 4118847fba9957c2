"""Alarms on the real platform: recorded with evidence, counted not duplicated, handled to
closure from the command line, escalated when nobody acknowledges, silenced for maintenance,
and neither lost nor repeated across a restart."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from forewarn.alarms.queries import alarm_detail, list_alarms
from forewarn.app import Platform
from forewarn.cli.common import open_store
from forewarn.config import Settings
from tests.integration.harness import FakeDevice, data_packet, register, settings_for

MN = "010000A8900016F000169DC0"
T0 = 1_795_305_600_000  # 2026-11-22T08:00:00+08:00


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def lel(minute: int, value: float) -> bytes:
    hh, mm = divmod(minute, 60)
    return data_packet(MN, f"DataTime=20261122{8 + hh:02d}{mm:02d}00;GD1-LEL={value},GD1-Flag=N",
                       qn=f"20261122{8 + hh:02d}{mm:02d}00000")


async def send_all(settings: Settings, clock: Clock, packets: list[tuple[int, bytes]], *, linger: float = 0.0) -> None:
    platform = Platform(settings, clock=clock)
    await platform.start()
    try:
        dev = await FakeDevice.connect(platform.hj212_port)
        for minute, packet in packets:
            clock.ms = T0 + minute * 60_000
            await dev.send(packet)
            assert (await dev.answer()).cn == "9014"
        await asyncio.sleep(linger)
        await dev.close()
    finally:
        await platform.stop()


def alarms(settings: Settings) -> list[dict]:  # type: ignore[type-arg]
    store = open_store(settings)
    try:
        return list_alarms(store.db)
    finally:
        store.close()


def forewarn(tmp: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "forewarn", *args, "--data", str(tmp / "data")],
                          capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_an_alarm_keeps_its_evidence_and_repeats_are_counted_not_duplicated(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    asyncio.run(send_all(settings, Clock(T0), [(0, lel(0, 0)), (1, lel(1, 31.2)), (2, lel(2, 5)),
                                               (3, lel(3, 33)), (4, lel(4, 60))]))
    [alarm] = alarms(settings)
    assert alarm["rule_id"] == "gas.lel" and alarm["state"] == "firing" and alarm["condition"] == "active"
    assert alarm["repeats"] == 2 and alarm["level"] == 2
    store = open_store(settings)
    detail = alarm_detail(store.db, alarm["id"])
    store.close()
    assert detail is not None
    assert [s["step"] for s in detail["steps"]] == ["fired", "cleared", "recurred", "escalated"]
    # the course: the reading before it began, then every reading of the still active episode
    assert [(e["code"], e["value"]) for e in detail["evidence"]] == [("GD1", 0), ("GD1", 31.2), ("GD1", 5),
                                                                       ("GD1", 33), ("GD1", 60)]
    assert "31.2 %LEL ≥ 一级报警值 25 %LEL" in detail["steps"][0]["note"]


def test_handling_an_alarm_to_closure_from_the_command_line(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    asyncio.run(send_all(settings, Clock(T0), [(0, lel(0, 40)), (1, lel(1, 5))]))  # the leak, then clear air
    [alarm] = alarms(settings)
    aid = str(alarm["id"])
    out_of_order = forewarn(tmp_path, "alarms", "close", aid, "--by", "王科长", check=False)
    assert out_of_order.returncode == 2
    assert "alarm 1 is firing: cannot close now; acknowledge it first" in out_of_order.stderr
    photo = tmp_path / "现场照片.jpg"
    photo.write_bytes(b"\xff\xd8 a photo")
    for step in (["ack", aid, "--by", "值班员"],
                 ["dispatch", aid, "--to", "金城江区燃气执法队", "--by", "值班员"],
                 ["record", aid, "--findings", "灌装间阀门泄漏", "--measures", "已关阀更换垫片",
                  "--attach", str(photo), "--by", "执法队李明"],
                 ["comment", aid, "复查无泄漏", "--by", "执法队李明"],
                 ["resolve", aid, "--by", "执法队李明"],
                 ["close", aid, "--by", "王科长", "--note", "审核通过"]):
        forewarn(tmp_path, "alarms", *step)
    shown = json.loads(forewarn(tmp_path, "alarms", "show", aid, "--format", "json").stdout)
    assert shown["state"] == "closed"
    steps = [(s["step"], s["actor"]) for s in shown["steps"]]
    assert steps == [("fired", "system"), ("cleared", "system"), ("acknowledged", "值班员"), ("dispatched", "值班员"),
                     ("checked", "执法队李明"), ("commented", "执法队李明"), ("resolved", "执法队李明"),
                     ("closed", "王科长")]
    # every step is in the audit log too, with the state before and after
    db = sqlite3.connect(tmp_path / "data" / "forewarn.db")
    audited = db.execute("SELECT actor, action, before, after FROM audit_log WHERE entity = 'alarm' ORDER BY id").fetchall()
    db.close()
    assert [(a, act) for a, act, _, _ in audited][:2] == [("值班员", "alarm.ack"), ("值班员", "alarm.dispatch")]
    assert json.loads(audited[0][2])["state"] == "firing" and json.loads(audited[0][3])["state"] == "acknowledged"
    kept = shown["steps"][4]["data"]["attachments"][0]
    assert Path(kept["stored"]).read_bytes() == b"\xff\xd8 a photo"
    listing = forewarn(tmp_path, "alarms", "list", "--state", "closed", "--format", "json").stdout
    assert json.loads(listing.splitlines()[0])["explanation"].startswith("GD1 可燃气体浓度 40 %LEL")
    english = forewarn(tmp_path, "alarms", "list", "--lang", "en").stdout
    assert "GD1 combustible gas 40 %LEL ≥ first-stage limit 25 %LEL" in english
    # the text view tells the episode: its start, how long, and its peak with unit
    text = forewarn(tmp_path, "alarms", "show", aid).stdout
    assert "峰值 40 %LEL (GD1-" in text and "分钟" in text, text
    assert "peak 40 %LEL" in forewarn(tmp_path, "alarms", "show", aid, "--lang", "en").stdout


def test_a_condition_that_returns_after_closing_opens_a_new_alarm(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    asyncio.run(send_all(settings, Clock(T0), [(0, lel(0, 40)), (1, lel(1, 0))]))
    for step in (["ack", "1"], ["resolve", "1"], ["close", "1"]):
        forewarn(tmp_path, "alarms", *step, "--by", "x")
    asyncio.run(send_all(settings, Clock(T0 + 120_000), [(2, lel(2, 45))]))
    assert [(a["id"], a["state"]) for a in alarms(settings)] == [(2, "firing"), (1, "closed")]


def test_restart_in_the_middle_of_a_for_window_raises_exactly_one_alarm(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    level = lambda m, v: data_packet(MN, f"DataTime=2026112208{m:02d}00;T1-Level={v},T1-Flag=N",  # noqa: E731
                                     qn=f"2026112208{m:02d}00000")
    asyncio.run(send_all(settings, Clock(T0), [(0, level(0, 80)), (1, level(1, 86))]))
    assert alarms(settings) == []
    asyncio.run(send_all(settings, Clock(T0 + 60_000), [(1, level(1, 86)), (2, level(2, 87)), (3, level(3, 88))]))
    [alarm] = alarms(settings)
    assert (alarm["rule_id"], alarm["first_ts"], alarm["repeats"]) == ("gas.tank_level_high", T0 + 120_000, 0)


def test_nobody_acknowledging_escalates_once(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ack_within_s=60)
    register(settings, tmp_path, [{"mn": MN}])
    clock = Clock(T0)

    async def scenario() -> None:
        platform = Platform(settings, clock=clock)
        await platform.start()
        try:
            dev = await FakeDevice.connect(platform.hj212_port)
            await dev.send(lel(0, 30))
            await dev.answer()
            clock.ms = T0 + 5 * 60_000
            await asyncio.sleep(1.5)  # the platform's clock task runs every 0.5 s here
            await dev.close()
        finally:
            await platform.stop()

    asyncio.run(scenario())
    [alarm] = [a for a in alarms(settings) if a["rule_id"] == "gas.lel"]
    assert (alarm["level"], alarm["escalated"]) == (2, 1)


def test_a_silence_records_without_announcing(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    forewarn(tmp_path, "alarms", "silence", "--mn", MN, "--from", "2026-11-22T07:00+08:00",
             "--until", "2026-11-22T09:00+08:00", "--note", "传感器标定", "--by", "运维")
    asyncio.run(send_all(settings, Clock(T0), [(0, lel(0, 40))]))
    [alarm] = alarms(settings)
    assert alarm["silenced"] == 1


def test_rules_check_names_the_line_and_import_puts_a_file_in_force(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[override]]\nrule = "gas.lel"\nregion = "4512"\nparams = { levels = [ { level = 1 } ] }\n'
                   '\n[[rule]]\nid = "my.rule"\nkind = "threshold"\n', encoding="utf-8")
    err = forewarn(tmp_path, "rules", "check", str(bad), check=False)
    assert err.returncode == 2 and f"{bad}:6: rule my.rule: title_zh is required" in err.stderr
    good = tmp_path / "hechi.toml"
    good.write_text('[[override]]\nrule = "gas.lel"\nregion = "4512"\n'
                    'params = { levels = [ { level = 1, value = 20.0, clear = 15.0 } ] }\n', encoding="utf-8")
    assert "ok: 21 rules in force" in forewarn(tmp_path, "rules", "check", str(good)).stdout
    forewarn(tmp_path, "rules", "import", str(good))
    db = sqlite3.connect(tmp_path / "data" / "forewarn.db")
    [(action, entity_id, after)] = db.execute(
        "SELECT action, entity_id, after FROM audit_log WHERE entity = 'rule_file'").fetchall()
    db.close()
    assert (action, entity_id) == ("rules.import", "hechi.toml") and "value = 20.0" in json.loads(after)["text"]
    listing = forewarn(tmp_path, "rules", "list").stdout
    assert "gas.lel                      v1" in listing
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    asyncio.run(send_all(settings, Clock(T0), [(0, lel(0, 22))]))
    assert [a["rule_id"] for a in alarms(settings)] == ["gas.lel"]  # 22 %LEL is above Hechi's 20


def test_a_fired_alarm_reaches_a_signed_webhook_after_it_is_stored(tmp_path: Path) -> None:
    from forewarn.alarms.notify import verify
    from tests.integration.test_notify_support import Receiver

    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    with Receiver().serving() as receiver:
        settings.notify_path.write_text(f"""
[[channel]]
name = "city"
kind = "webhook"
url = "{receiver.url}/alarms"
secret = "s3cret"

[[route]]
region_prefixes = ["4512"]
channels = ["city"]
""", encoding="utf-8")

        async def scenario() -> None:
            platform = Platform(settings, clock=Clock(T0))
            await platform.start()
            try:
                dev = await FakeDevice.connect(platform.hj212_port)
                await dev.send(lel(0, 31.2))
                await dev.answer()
                for _ in range(100):
                    if receiver.requests:
                        break
                    await asyncio.sleep(0.05)
                await dev.close()
            finally:
                await platform.stop()

        asyncio.run(scenario())
    [request] = receiver.requests
    assert verify(request.body, "s3cret", request.headers["X-Forewarn-Signature"])
    body = json.loads(request.body)
    assert (body["event"], body["rule_id"], body["mn"]) == ("fired", "gas.lel", MN)
    assert body["explanation_zh"] == "GD1 可燃气体浓度 31.2 %LEL ≥ 一级报警值 25 %LEL"


def _outbox(settings: Settings) -> list[tuple[str, str]]:
    store = open_store(settings)
    try:
        rows = store.db.execute("SELECT event, payload FROM outbox ORDER BY id").fetchall()
    finally:
        store.close()
    return [(event, json.loads(payload)["headline_zh"]) for event, payload in rows]


def _dead_webhook(settings: Settings) -> None:
    settings.notify_path.write_text("""
[[channel]]
name = "dead"
kind = "webhook"
url = "http://127.0.0.1:9/"
secret = "x"

[[route]]
events = ["fired", "escalated", "cleared", "overdue"]
channels = ["dead"]
""", encoding="utf-8")


def test_a_condition_that_comes_back_is_announced_and_a_resolved_alarm_reopens(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    register(settings, tmp_path, [{"mn": MN}])
    _dead_webhook(settings)
    asyncio.run(send_all(settings, Clock(T0), [(0, lel(0, 30)), (1, lel(1, 5)), (2, lel(2, 30))]))
    assert _outbox(settings) == [("fired", "新告警"), ("cleared", "已恢复正常"), ("fired", "再次发生")]
    for step in (["ack", "1"], ["resolve", "1"]):
        forewarn(tmp_path, "alarms", *step, "--by", "x")
    asyncio.run(send_all(settings, Clock(T0 + 3 * 60_000), [(3, lel(3, 5)), (4, lel(4, 45))]))
    [alarm] = alarms(settings)
    assert alarm["state"] == "firing"
    assert _outbox(settings)[-1] == ("fired", "已处置后再次发生")


def test_silenced_alarms_are_not_escalated_and_a_restart_blames_no_device(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ack_within_s=60)
    register(settings, tmp_path, [{"mn": MN}])
    forewarn(tmp_path, "alarms", "silence", "--mn", MN, "--from", "2026-11-22T07:00+08:00",
             "--until", "2026-11-22T09:00+08:00", "--by", "运维")
    asyncio.run(send_all(settings, Clock(T0), [(0, lel(0, 40))]))
    clock = Clock(T0 + 10 * 60_000)  # the platform was down for ten minutes

    async def restart() -> None:
        platform = Platform(settings, clock=clock)
        await platform.start()
        await asyncio.sleep(1.5)
        await platform.stop()

    asyncio.run(restart())
    found = alarms(settings)
    # no device is blamed; the platform's own downtime is one platform-level alarm
    assert [(a["rule_id"], a["escalated"]) for a in found] == [("dq.platform_down", 0), ("gas.lel", 0)]
