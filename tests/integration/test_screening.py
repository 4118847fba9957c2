"""The screening for doubtful data over a simulated month: each planted kind is found where it
was planted, a clean month yields nothing, confirming makes an audit mark, dismissing keeps who
and why, and a user sees and judges only what is in their scope."""

from __future__ import annotations

from pathlib import Path

import pytest

from forewarn.access.roles import Role
from forewarn.access.scope import Scope
from forewarn.catalogue import Catalogue
from forewarn.stats import screening
from forewarn.stats.checks.thresholds import load_thresholds
from forewarn.store import audit_marks
from forewarn.store.sqlite import SqliteStore
from tests.integration.screening_month import (
    DAY,
    DUST,
    GAS,
    MONTH_END,
    MONTH_START,
    TZ,
    fleet_settings,
    write_month,
)

CITY = Scope(Role.CITY_ADMIN)
NOW = MONTH_END + DAY


def _run(store: SqliteStore, scope: Scope = CITY, from_ms: int = MONTH_START, to_ms: int = MONTH_END
         ) -> screening.RunResult:
    found = screening.screen(store.db, scope, from_ms, to_ms, thresholds=load_thresholds(), tz=TZ)
    box: list[screening.RunResult] = []
    store.run_in_transaction(lambda db: box.append(
        screening.record(db, found, from_ms=from_ms, to_ms=to_ms, actor="test", tz=TZ, now_ms=NOW)))
    return box[0]


def _found(store: SqliteStore) -> list[tuple[str, str, str, int, int]]:
    rows = store.db.execute(
        "SELECT f.kind, d.mn, COALESCE(p.code, ''), f.start_ms, f.end_ms FROM screening_findings f "
        "JOIN devices d ON d.id = f.device_id LEFT JOIN points p ON p.id = f.point_id ORDER BY f.kind, d.mn")
    return [tuple(r) for r in rows]


@pytest.fixture
def planted_month(tmp_path: Path) -> tuple[SqliteStore, list[tuple[str, str, str, int, int]]]:
    settings = fleet_settings(tmp_path)
    planted = write_month(settings, plant=True)
    store = SqliteStore(settings.db_path, Catalogue())
    yield store, planted.faults
    store.close()


def test_a_clean_month_yields_no_findings(tmp_path: Path) -> None:
    settings = fleet_settings(tmp_path)
    write_month(settings, plant=False)
    with SqliteStore(settings.db_path, Catalogue()) as store:
        result = _run(store)
        assert result.found == 0, _found(store)
        assert _found(store) == []


def test_each_planted_kind_is_found_exactly_where_planted(planted_month) -> None:
    store, planted = planted_month
    result = _run(store)
    found = _found(store)
    kinds_planted = {kind for kind, *_ in planted}
    assert kinds_planted == {c.kind for c in screening.kinds()}, "every registered kind is planted"
    assert sorted((k, mn, code) for k, mn, code, *_ in found) == sorted((k, mn, code) for k, mn, code, *_ in planted)
    for kind, mn, code, start, end in planted:
        (hit,) = [f for f in found if f[:3] == (kind, mn, code)]
        if kind == "clock_drift":  # the drift is measured over the whole month
            assert hit[3] < MONTH_START + DAY and hit[4] > MONTH_END - DAY, hit
        else:
            assert (hit[3], hit[4]) == (start, end), (kind, hit, start, end)
    assert result.found == len(planted) and result.new == len(planted)


def test_findings_name_their_evidence(planted_month) -> None:
    store, _ = planted_month
    _run(store)
    page = screening.list_findings(store.db, CITY, TZ, kinds_=["neighbour_drop"])
    (drop,) = page.findings
    assert drop.mn == DUST[3] and drop.kind_zh == "骤降低于周边"
    evidence = drop.evidence
    assert len(evidence["neighbours"]) == 4 and all(n["km"] <= 5 for n in evidence["neighbours"])
    assert all(n["mean"] > 150 for n in evidence["neighbours"])
    assert evidence["series"] and evidence["reference"] and evidence["facts"]
    own = dict((t, v) for t, v in evidence["series"])
    assert own[drop.start_ms] < 40
    page = screening.list_findings(store.db, CITY, TZ, kinds_=["constant"])
    (flat,) = page.findings
    assert {f["en"]: f["value"] for f in flat.evidence["facts"]}["value held"] == 55.0


def test_screening_day_by_day_finds_each_fault_once(planted_month) -> None:
    """The daily schedule: a fault that goes on over days (the drifting clock) stays one finding."""
    store, planted = planted_month
    for day in range(30):
        _run(store, from_ms=MONTH_START + day * DAY, to_ms=MONTH_START + (day + 1) * DAY)
    found = _found(store)
    assert sorted((k, mn, code) for k, mn, code, *_ in found) == sorted((k, mn, code) for k, mn, code, *_ in planted)


def test_screening_again_does_not_repeat_findings(planted_month) -> None:
    store, planted = planted_month
    _run(store)
    again = _run(store)
    assert again.found == len(planted) and again.new == 0
    assert len(_found(store)) == len(planted)


def test_confirm_makes_an_audit_mark_and_dismiss_keeps_who_and_why(planted_month) -> None:
    store, _ = planted_month
    _run(store)
    auditor = Scope(Role.AUDITOR)
    page = screening.list_findings(store.db, CITY, TZ, states=["open"])
    drop = next(f for f in page.findings if f.kind == "neighbour_drop")
    flat = next(f for f in page.findings if f.kind == "constant")
    box: list[screening.FindingView] = []
    store.run_in_transaction(lambda db: box.append(screening.confirm(
        db, drop.id, actor="li", scope=auditor, note="inlet wet on the photo", now_ms=NOW, tz=TZ)))
    confirmed = box[0]
    assert confirmed.state == "confirmed" and confirmed.decided_by == "li" and confirmed.audit_mark_id
    mark = store.db.execute("SELECT target, target_id, start_ms, end_ms, valid, reason, note FROM data_marks "
                            "WHERE id = ?", (confirmed.audit_mark_id,)).fetchone()
    assert mark[:5] == ("point", drop.point_id, drop.start_ms, drop.end_ms, 0)
    assert mark[5] == "suspected_tampering" and "inlet wet" in mark[6]
    assert audit_marks.invalid_ranges(store.db, [drop.point_id], MONTH_START, MONTH_END) == {
        drop.point_id: [(drop.start_ms, drop.end_ms)]}
    with pytest.raises(screening.ScreeningError) as refused:
        store.run_in_transaction(lambda db: screening.dismiss(
            db, flat.id, actor="li", scope=auditor, note="  ", now_ms=NOW, tz=TZ))
    assert refused.value.status == 400
    store.run_in_transaction(lambda db: box.append(screening.dismiss(
        db, flat.id, actor="li", scope=auditor, note="sensor of 1 % resolution in fog", now_ms=NOW, tz=TZ)))
    dismissed = box[-1]
    assert (dismissed.state, dismissed.decided_by, dismissed.decision_note, dismissed.audit_mark_id) == (
        "dismissed", "li", "sensor of 1 % resolution in fog", None)
    with pytest.raises(screening.ScreeningError) as twice:
        store.run_in_transaction(lambda db: screening.confirm(db, flat.id, actor="li", scope=auditor, now_ms=NOW,
                                                              tz=TZ))
    assert twice.value.status == 409
    # a judged finding stays judged when the month is screened again
    _run(store)
    states = dict(store.db.execute("SELECT id, state FROM screening_findings").fetchall())
    assert states[drop.id] == "confirmed" and states[flat.id] == "dismissed"
    logged = [r[0] for r in store.db.execute("SELECT action FROM audit_log WHERE entity = 'screening_finding' ORDER BY id")]
    assert logged == ["screening.confirm", "screening.dismiss"]


def test_scope_limits_what_is_screened_listed_and_judged(planted_month) -> None:
    store, _ = planted_month
    yizhou = Scope(Role.DISTRICT_ADMIN, region_prefix="451281")
    jinchengjiang = Scope(Role.DISTRICT_ADMIN, region_prefix="451202")
    only_gas = screening.screen(store.db, yizhou, MONTH_START, MONTH_END, thresholds=load_thresholds(), tz=TZ)
    assert [(f.kind, f.device_id) for f in only_gas] == [
        ("impossible", store.device_infos()[GAS].id)]
    _run(store)
    assert {f.mn for f in screening.list_findings(store.db, yizhou, TZ).findings} == {GAS}
    assert GAS not in {f.mn for f in screening.list_findings(store.db, jinchengjiang, TZ).findings}
    gas = screening.list_findings(store.db, yizhou, TZ).findings[0]
    with pytest.raises(screening.ScreeningError) as outside:
        store.run_in_transaction(lambda db: screening.confirm(db, gas.id, actor="wang", scope=jinchengjiang,
                                                              now_ms=NOW, tz=TZ))
    assert outside.value.status == 404
    company = Scope(Role.ENTERPRISE_USER, enterprise_id=1)
    with pytest.raises(screening.ScreeningError) as own_data:
        store.run_in_transaction(lambda db: screening.dismiss(db, gas.id, actor="co", scope=company, note="fine",
                                                              now_ms=NOW, tz=TZ))
    assert own_data.value.status == 403


def test_the_daily_schedule_screens_the_day_before_once_its_hour_has_come(tmp_path: Path) -> None:
    """In a running platform, off the loop: its reader threads and its writer."""
    import asyncio

    from forewarn.app import Platform
    from forewarn.stats.screening_daily import ACTOR, DailyScreening

    settings = fleet_settings(tmp_path)
    write_month(settings, plant=True)
    day16 = MONTH_START + 16 * DAY
    now = [day16 + 1 * 3_600_000]  # 01:00 local on day 16

    def clock() -> float:
        return now[0] / 1000

    async def scenario() -> None:
        platform = Platform(settings, clock=clock)
        await platform.start()
        try:
            daily = DailyScreening(settings, platform.readers, platform.writer, clock, nap_s=0.02, start_delay_s=0)
            task = asyncio.create_task(daily.run())
            await asyncio.sleep(0.2)
            assert daily.last is None  # before 02:00 nothing is screened
            now[0] = day16 + 3 * 3_600_000  # 03:00: past the screening hour (02)
            for _ in range(200):
                if daily.last is not None:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)  # a few more looks at the clock: the day is not screened again
            task.cancel()
        finally:
            await platform.stop()

    asyncio.run(scenario())
    with SqliteStore(settings.db_path, Catalogue()) as store:
        runs = store.db.execute("SELECT actor, from_ms, to_ms FROM screening_runs").fetchall()
        assert [r for r in runs if r[0] == ACTOR] == [(ACTOR, MONTH_START + 15 * DAY, day16)]
        found = _found(store)
    # day 15 holds the drop below the neighbours, and the drifting clock shows in every day
    assert sorted((k, mn) for k, mn, *_ in found) == [("clock_drift", DUST[4]), ("neighbour_drop", DUST[3])]


def test_data_already_marked_invalid_in_audit_is_not_raised_again(planted_month) -> None:
    """The flat humidity fell in a maintenance the auditor had marked: nothing left to judge."""
    from forewarn.model import AuditReason, MarkTarget
    from forewarn.stats import audit

    store, planted = planted_month
    (_, mn, code, start, end) = next(p for p in planted if p[0] == "constant")
    point = store.db.execute("SELECT p.id FROM points p JOIN devices d ON d.id = p.device_id WHERE d.mn = ? "
                             "AND p.code = ?", (mn, code)).fetchone()[0]
    store.run_in_transaction(lambda db: audit.mark(
        db, actor="li", scope=CITY, target=MarkTarget.POINT, target_id=point, start_ms=start - 3_600_000,
        end_ms=end + 3_600_000, valid=False, reason=AuditReason.MAINTENANCE, now_ms=NOW))
    _run(store)
    assert "constant" not in {k for k, *_ in _found(store)}
    assert len(_found(store)) == len(planted) - 1
