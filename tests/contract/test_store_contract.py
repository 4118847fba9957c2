"""The store contract: every behaviour of the Store interface, run on SQLite and on PostgreSQL.

The ``store`` fixture opens each implementation through ``open_store`` (a fresh SQLite file,
or a fresh schema of the machine's PostgreSQL); every test runs on both, so that a platform
moved from one to the other answers the same.
"""

from __future__ import annotations

import math
import random
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from forewarn.catalogue import Catalogue
from forewarn.model import Kind
from forewarn.store.base import (
    DeviceRow,
    IngestBatch,
    PointRow,
    QuarantinedPacket,
    ReadingBatch,
    ReadingRow,
    RegionRow,
    Rejection,
    Store,
)
from forewarn.store.open import open_store
from forewarn.store.sqlite import SqliteStore, StoreError
from tests.pg import BASE_DSN

MN = "CONTRACT0000000000000001"
MN2 = "CONTRACT0000000000000002"
T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC
MIN = 60_000

DEVICES = [
    DeviceRow(region_code="450102", region_name="兴宁区", parent_region_code="450100", enterprise="南宁化工",
              site="一号排口", site_type="factory", mn=MN, longitude=108.3, latitude=22.8, password="123456",
              interval_s=60, leniency="no_crc|lowercase"),
    DeviceRow(region_code="450103", region_name="青秀区", parent_region_code="450100", enterprise="南宁化工",
              site="二号排口", site_type="factory", mn=MN2, protocol="mqtt", interval_s=300),
]
POINTS = [PointRow(MN, "a21026", "Avg", unit="mg/m3", upper=35.0), PointRow(MN, "a21002", "Avg"),
          PointRow(MN2, "a34001", "Rtd", name="TSP")]
REGIONS = [RegionRow("450100", "南宁市", "450000")]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'forewarn.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_dsn")
    opened = open_store(url, Catalogue())
    yield opened
    opened.close()


@pytest.fixture
def registered(store: Store) -> Store:
    store.apply_registry(DEVICES, POINTS, REGIONS)
    return store


def sql(store: Store, query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """A look inside the tables, for what the interface does not answer (written with ?)."""
    if isinstance(store, SqliteStore):
        return [tuple(r) for r in store.db.execute(query, args).fetchall()]
    with psycopg.connect(store.dsn, autocommit=True) as conn:  # type: ignore[attr-defined]
        return [tuple(r) for r in conn.execute(query.replace("?", "%s"), args or None).fetchall()]


def device_id(store: Store, mn: str = MN) -> int:
    return store.device_infos()[mn].id


def point_id(store: Store, code: str, mn: str = MN) -> int:
    return int(sql(store, "SELECT p.id FROM points p JOIN devices d ON d.id = p.device_id "
                          "WHERE d.mn = ? AND p.code = ?", (mn, code))[0][0])


def readings_batch(store: Store, kind: Kind, rows: list[ReadingRow], mn: str = MN) -> IngestBatch:
    return IngestBatch(readings=[ReadingBatch(device_id(store, mn), kind, rows)])


# ------------------------------------------------------------------ registry


def test_registry_import_is_counted_and_idempotent(store: Store) -> None:
    version = store.registry_version()
    first = store.apply_registry(DEVICES, POINTS, REGIONS)
    assert (first.regions, first.enterprises, first.sites) == (3, 1, 2)
    assert (first.devices_added, first.devices_updated, first.points_added, first.points_updated) == (2, 0, 3, 0)
    exported = (store.export_regions(), store.export_devices(), store.export_points())
    again = store.apply_registry(DEVICES, POINTS, REGIONS)
    assert (again.devices_added, again.devices_updated, again.points_added, again.points_updated) == (0, 2, 0, 3)
    assert (store.export_regions(), store.export_devices(), store.export_points()) == exported
    assert store.registry_version() == version + 2
    regions = {r.code: r for r in exported[0]}
    assert regions["450102"] == RegionRow("450102", "兴宁区", "450100")
    assert regions["450100"] == RegionRow("450100", "南宁市", "450000")
    assert exported[1] == sorted(DEVICES, key=lambda d: (d.region_code, d.enterprise, d.site, d.mn))
    points = {(p.mn, p.code): p for p in exported[2]}
    assert points[(MN, "a21026")].upper == 35.0 and points[(MN, "a21026")].unit == "mg/m3"
    assert points[(MN2, "a34001")].name == "TSP" and not points[(MN2, "a34001")].discovered


def test_registry_import_of_a_point_of_an_unknown_device_changes_nothing(store: Store) -> None:
    with pytest.raises(StoreError, match="NOSUCHDEVICE is not registered"):
        store.apply_registry(DEVICES, [PointRow("NOSUCHDEVICE", "a21026", "Avg")])
    assert store.export_devices() == [] and store.registry_version() == 0


def test_registry_callbacks_run_inside_the_import_transaction(store: Store) -> None:
    seen: list[int] = []

    def before_commit(conn: Any, result: Any) -> None:
        seen.append(result.devices_added)
        raise RuntimeError("refused by the check")

    with pytest.raises(RuntimeError, match="refused by the check"):
        store.apply_registry(DEVICES, POINTS, before_commit=before_commit)  # type: ignore[call-arg]
    assert seen == [2]
    assert store.export_devices() == []  # the import was rolled back with the callback's refusal


def test_device_infos(registered: Store) -> None:
    infos = registered.device_infos()
    assert set(infos) == {MN, MN2}
    one = infos[MN]
    assert (one.mn, one.password, one.interval_s, one.protocol) == (MN, "123456", 60, "hj212")
    assert one.leniency == frozenset({"no_crc", "lowercase"})
    assert infos[MN2].protocol == "mqtt" and infos[MN2].interval_s == 300 and infos[MN2].leniency == frozenset()
    registered.apply_registry([replace(DEVICES[1], site_status="retired")], [])
    assert set(registered.device_infos()) == {MN}  # a retired site's device is no longer accepted


def test_discovered_points_are_created_from_the_catalogue(registered: Store) -> None:
    batch = readings_batch(registered, Kind.RTD, [("a01012", "Rtd", T0, 21.5, "N"), ("a21026", "Avg", T0, 1.0, "N")])
    registered.write(batch)
    points = {(p.code, p.field): p for p in registered.export_points() if p.mn == MN}
    found = points[("a01012", "Rtd")]
    template = Catalogue().point_template("a01012", "Rtd")
    assert found.discovered and found.name == template.name_zh and found.unit == template.unit
    assert not points[("a21026", "Avg")].discovered
    assert registered.status(T0, 3)["points_discovered"] == 1
    assert [r.value for r in registered.readings(MN, Kind.RTD, "a01012")] == [21.5]
    # registering it later makes it a registered point, with the same id and its readings
    registered.apply_registry([], [PointRow(MN, "a01012", "Rtd", name="温度")])
    points = {(p.code, p.field): p for p in registered.export_points() if p.mn == MN}
    assert not points[("a01012", "Rtd")].discovered and points[("a01012", "Rtd")].name == "温度"
    assert [r.value for r in registered.readings(MN, Kind.RTD, "a01012")] == [21.5]


def test_a_failed_batch_takes_its_discovered_points_with_it(registered: Store) -> None:
    def refuse(conn: Any, batch: IngestBatch) -> None:
        raise RuntimeError("hook failed")

    registered.batch_hooks.append(refuse)  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="hook failed"):
        registered.write(readings_batch(registered, Kind.RTD, [("a99999", "Rtd", T0, 1.0, "N")]))
    registered.batch_hooks.clear()  # type: ignore[attr-defined]
    assert not any(p.code == "a99999" for p in registered.export_points())
    assert registered.counters() == {}
    # the next batch discovers it again (the cache forgot the rolled-back id)
    registered.write(readings_batch(registered, Kind.RTD, [("a99999", "Rtd", T0, 2.0, "N")]))
    assert [r.value for r in registered.readings(MN, Kind.RTD, "a99999")] == [2.0]


# ------------------------------------------------------------------ readings


def test_first_write_wins_and_repeats_are_counted(registered: Store) -> None:
    rows: list[ReadingRow] = [("a21026", "Avg", T0, 1.0, "N"), ("a21026", "Avg", T0 + MIN, 2.0, "N")]
    registered.write(readings_batch(registered, Kind.MINUTE, rows))
    again: list[ReadingRow] = [("a21026", "Avg", T0, 99.0, "T"), ("a21026", "Avg", T0 + 2 * MIN, 3.0, "N"),
                               ("a21026", "Avg", T0 + 2 * MIN, 77.0, "D")]  # twice within one batch, too
    registered.write(readings_batch(registered, Kind.MINUTE, again))
    stored = [(r.ts_ms, r.value, r.flag) for r in registered.readings(MN, Kind.MINUTE)]
    assert stored == [(T0, 1.0, "N"), (T0 + MIN, 2.0, "N"), (T0 + 2 * MIN, 3.0, "N")]
    counters = registered.counters()
    assert counters["readings_stored"] == 3 and counters["readings_already_stored"] == 2
    assert registered.status(T0, 3)["readings_stored"] == 3
    # the same point and time of another kind is another reading
    registered.write(readings_batch(registered, Kind.HOUR, [("a21026", "Avg", T0, 5.0, "N")]))
    assert [r.value for r in registered.readings(MN, Kind.HOUR)] == [5.0]


def test_readings_range_code_and_order(registered: Store) -> None:
    rows: list[ReadingRow] = []
    for i in range(10):
        rows.append(("a21026", "Avg", T0 + i * MIN, float(i), "N"))
        rows.append(("a21002", "Avg", T0 + i * MIN, None if i == 3 else 100.0 + i, "D" if i == 3 else "N"))
    registered.write(readings_batch(registered, Kind.MINUTE, rows))
    got = list(registered.readings(MN, Kind.MINUTE, from_ms=T0 + 2 * MIN, to_ms=T0 + 4 * MIN))
    assert [(r.ts_ms, r.code, r.value, r.flag) for r in got] == [
        (T0 + 2 * MIN, "a21002", 102.0, "N"), (T0 + 2 * MIN, "a21026", 2.0, "N"),
        (T0 + 3 * MIN, "a21002", None, "D"), (T0 + 3 * MIN, "a21026", 3.0, "N"),
        (T0 + 4 * MIN, "a21002", 104.0, "N"), (T0 + 4 * MIN, "a21026", 4.0, "N"),
    ]
    only = list(registered.readings(MN, Kind.MINUTE, code="a21026", from_ms=T0 + 8 * MIN))
    assert [(r.ts_ms, r.value) for r in only] == [(T0 + 8 * MIN, 8.0), (T0 + 9 * MIN, 9.0)]
    assert all(r.mn == MN and r.kind is Kind.MINUTE and r.field == "Avg" for r in only)
    assert list(registered.readings(MN2, Kind.MINUTE)) == []


def test_latest_is_the_newest_reading_of_each_point(registered: Store) -> None:
    registered.write(readings_batch(registered, Kind.RTD, [
        ("a21026", "Avg", T0 + 5 * MIN, 5.0, "N"), ("a21026", "Avg", T0, 0.0, "N"),
        ("a21002", "Avg", T0 + 2 * MIN, 2.0, "T")]))
    registered.write(readings_batch(registered, Kind.RTD, [("a34001", "Rtd", T0 + MIN, 9.0, "N")], mn=MN2))
    everything = [(r.mn, r.code, r.ts_ms, r.value, r.flag) for r in registered.latest(Kind.RTD)]
    assert everything == [(MN, "a21002", T0 + 2 * MIN, 2.0, "T"), (MN, "a21026", T0 + 5 * MIN, 5.0, "N"),
                          (MN2, "a34001", T0 + MIN, 9.0, "N")]
    assert [r.code for r in registered.latest(Kind.RTD, MN2)] == ["a34001"]
    assert registered.latest(Kind.MINUTE) == []


def test_partitions_are_made_for_old_and_future_months(registered: Store, request: pytest.FixtureRequest) -> None:
    old = 1_425_168_000_000 + 3 * 86_400_000  # 2015-03-04 UTC
    future = int(time.time() * 1000) + 300 * 86_400_000
    garbage = 86_400_000  # 1970: a device's clock never set
    rows: list[ReadingRow] = [("a21026", "Avg", ts, float(i), "N") for i, ts in enumerate((old, future, garbage))]
    registered.write(readings_batch(registered, Kind.MINUTE, rows))
    assert sorted(r.ts_ms for r in registered.readings(MN, Kind.MINUTE)) == sorted([old, future, garbage])
    if isinstance(registered, SqliteStore):
        return  # one table per kind: nothing to partition
    where = dict(sql(registered, "SELECT ts, tableoid::regclass::text FROM readings_minute"))
    month = time.strftime("%Y_%m", time.gmtime(future / 1000))
    assert where == {old: "readings_minute_2015_03", future: f"readings_minute_{month}",
                     garbage: "readings_minute_default"}


def test_stored_readings_enter_the_forwarding_outbox_once(registered: Store) -> None:
    d = device_id(registered)
    registered.run_in_transaction(lambda conn: conn.execute(  # type: ignore[attr-defined]
        f"INSERT INTO forward_rules (target, device_id, code, kind) VALUES ('up', {d}, 'a21026', '*'), "
        f"('all', {d}, '*', 'minute')"))
    registered.write(readings_batch(registered, Kind.MINUTE, [
        ("a21026", "Avg", T0, 1.0, "N"), ("a21002", "Avg", T0, 2.0, "N")]))
    # a resend of a stored reading is stored nothing and forwarded nothing; only the new one goes
    registered.write(readings_batch(registered, Kind.MINUTE, [
        ("a21026", "Avg", T0, 9.0, "N"), ("a21026", "Avg", T0 + MIN, 3.0, "N")]))
    registered.write(readings_batch(registered, Kind.HOUR, [("a21002", "Avg", T0, 4.0, "N")]))
    rows = sql(registered, "SELECT target, device_id, kind, ts, code, field, value, flag FROM forward_outbox "
                           "ORDER BY target, ts, code")
    assert rows == [
        ("all", d, "minute", T0, "a21002", "Avg", 2.0, "N"), ("all", d, "minute", T0, "a21026", "Avg", 1.0, "N"),
        ("all", d, "minute", T0 + MIN, "a21026", "Avg", 3.0, "N"),
        ("up", d, "minute", T0, "a21026", "Avg", 1.0, "N"), ("up", d, "minute", T0 + MIN, "a21026", "Avg", 3.0, "N"),
    ]


# ------------------------------------------------------------------ series


def _series_rows(p: int) -> list[ReadingRow]:
    """A wavy year-like signal with ties, NULL gaps and planted peaks (as codes of point p)."""
    rnd = random.Random(11)
    out: list[ReadingRow] = []
    for i in range(6_000):
        if 2_000 <= i < 2_300:
            out.append(("a21026", "Avg", T0 + i * MIN, None, "D"))
        else:
            value = round(30 + 10 * math.sin(i / 150) + rnd.choice((0.0, 0.5, 1.0)), 1)  # many equal values
            out.append(("a21026", "Avg", T0 + i * MIN + rnd.randrange(3) * 1000, value, "N"))
    out[777] = ("a21026", "Avg", out[777][2], 500.0, "T")
    out[4_444] = ("a21026", "Avg", out[4_444][2], -20.0, "N")
    return out


def test_series_keeps_peaks_and_matches_the_embedded_store(registered: Store, tmp_path: Path) -> None:
    p = point_id(registered, "a21026")
    rows = _series_rows(p)
    registered.write(readings_batch(registered, Kind.MINUTE, rows))
    reference = SqliteStore(tmp_path / "reference.db", Catalogue())
    reference.apply_registry(DEVICES, POINTS, REGIONS)
    reference.write(IngestBatch(readings=[ReadingBatch(reference.device_infos()[MN].id, Kind.MINUTE, rows)]))
    ref_point = int(reference.db.execute("SELECT id FROM points WHERE code = 'a21026' AND device_id = ?",
                                         (reference.device_infos()[MN].id,)).fetchone()[0])
    for lo, hi, n in [(T0, T0 + 10_000 * MIN, 200), (T0 + 100 * MIN, T0 + 2_500 * MIN, 51), (T0, T0 + 6 * MIN, 100),
                      (T0, T0 + 10_000 * MIN, 2)]:
        got = registered.series(p, Kind.MINUTE, lo, hi, n)
        assert got == reference.series(ref_point, Kind.MINUTE, lo, hi, n)
        assert len(got) <= n
    out = registered.series(p, Kind.MINUTE, T0, T0 + 10_000 * MIN, 200)
    assert (rows[777][2], 500.0, "T") in out and (rows[4_444][2], -20.0, "N") in out
    assert any(v is None for _, v, _ in out)  # the NULL stretch shows as a gap
    with pytest.raises(ValueError, match="max_points must be at least 2"):
        registered.series(p, Kind.MINUTE, T0, T0 + MIN, 1)
    reference.close()


# ------------------------------------------------------------------ the rest of a batch


def test_quarantine_round_trip(registered: Store) -> None:
    unknown = "UNKNOWN00000000000000001"
    frame = b"##0101QN=20250101000000000;ST=22;CN=2011;MN=UNKNOWN00000000000000001;CP=&&&&ABCD\r\n"
    registered.write(IngestBatch(quarantine=[
        QuarantinedPacket(unknown, T0, frame, True, "10.0.0.1:5000"),
        QuarantinedPacket(unknown, T0 + 1000, b"\x00\xffbinary", False, "10.0.0.2:5001"),
        QuarantinedPacket(unknown, T0 + 2000, b'{"mn":"x"}', False, "mqtt", format="mqtt:forewarn"),
    ]))
    assert registered.quarantine_size() == 3 and registered.quarantined_mns() == {unknown}
    frames = registered.quarantined(unknown)
    assert [(ms, raw, crlf) for _, ms, raw, crlf in frames] == [(T0, frame, True), (T0 + 1000, b"\x00\xffbinary", False)]
    messages = registered.quarantined_messages(unknown)
    assert [(ms, raw, fmt) for _, ms, raw, fmt in messages] == [(T0 + 2000, b'{"mn":"x"}', "mqtt:forewarn")]
    (seen,) = registered.unknown_devices()
    assert (seen.mn, seen.first_ms, seen.last_ms, seen.packets, seen.last_peer, seen.refused) == (
        unknown, T0, T0 + 2000, 3, "mqtt", "")
    first_id, second_id = frames[0][0], frames[1][0]
    registered.write(IngestBatch(claimed_quarantine=[first_id], refused_quarantine=[(second_id, "bad password")]))
    assert [i for i, *_ in registered.quarantined(unknown)] == [second_id]
    assert registered.unknown_devices()[0].refused == "bad password"
    assert registered.status(T0, 3)["quarantined_packets"] == 2 and registered.status(T0, 3)["unknown_devices"] == 1


def test_rejections_are_added_up(registered: Store) -> None:
    registered.write(IngestBatch(rejections=[Rejection("bad_crc", T0, MN, "crc 1", 2),
                                             Rejection("garbage", T0, "", "junk", 1)]))
    registered.write(IngestBatch(rejections=[Rejection("bad_crc", T0 + 5, MN2, "crc 2", 3)]))
    rejections = registered.status(T0, 3)["rejections"]
    assert rejections == {"bad_crc": {"count": 5, "last_mn": MN2, "last_detail": "crc 2"},
                          "garbage": {"count": 1, "last_mn": "", "last_detail": "junk"}}
    assert registered.status(T0, 3)["packets_rejected"] == 5  # garbage is not a packet


def test_activity_keeps_the_first_and_last_heard(registered: Store) -> None:
    d = device_id(registered)
    batch = IngestBatch()
    batch.note_activity(d, T0 + 1000, T0 + 2000, 1)
    registered.write(batch)
    later = IngestBatch()
    later.note_activity(d, T0 + 500, T0 + 1500, 2)
    registered.write(later)
    assert registered.last_seen() == {d: T0 + 2000}
    assert sql(registered, "SELECT first_ms, last_ms, packets FROM device_activity") == [(T0 + 500, T0 + 2000, 3)]
    status = registered.status(T0 + 2000 + 60_000, 3)
    assert (status["devices_registered"], status["devices_online"], status["devices_offline"]) == (2, 1, 1)
    assert registered.status(T0 + 2000 + 200_000, 3)["devices_online"] == 0


def test_quirks_packet_clock_and_counters(registered: Store) -> None:
    d = device_id(registered)
    batch = IngestBatch(quirks=Counter({(d, "no_crc"): 2}), counters=Counter({"packets_accepted": 4}))
    batch.note_packet(d, T0, "rtd", 100, False)
    batch.note_packet(d, T0, "rtd", -50, True)
    registered.write(batch)
    registered.write(IngestBatch(quirks=Counter({(d, "no_crc"): 1, (d, "lowercase"): 5}),
                                 counters=Counter({"packets_accepted": 1})))
    status = registered.status(T0, 3)
    assert status["quirks_tolerated"] == {"no_crc": 3, "lowercase": 5}
    assert status["quirks_by_device"] == {MN: {"lowercase": 5, "no_crc": 3}}
    assert status["packets_accepted"] == 5 and registered.counters()["packets_accepted"] == 5
    assert sql(registered, "SELECT packets, repeats, skew_min_ms, skew_max_ms, skew_sum_ms FROM packet_clock") == [
        (2, 1, -50, 100, 50)]


def test_rule_states_and_versions_persist(registered: Store) -> None:
    registered.write(IngestBatch(rule_states={("gas.lel", MN): '{"n": 1}', ("dust.tsp", MN2): "{}"}))
    registered.write(IngestBatch(rule_states={("gas.lel", MN): '{"n": 2}'}))
    assert registered.rule_states() == {("gas.lel", MN): '{"n": 2}', ("dust.tsp", MN2): "{}"}
    one = registered.rule_version("gas.lel", "hash-a", "body a")  # type: ignore[attr-defined]
    two = registered.rule_version("gas.lel", "hash-b", "body b")  # type: ignore[attr-defined]
    assert (one, two) == (1, 2)
    assert registered.rule_version("gas.lel", "hash-a", "body a") == 1  # type: ignore[attr-defined]
    devices, points = registered.rule_context()  # type: ignore[attr-defined]
    assert {row[1] for row in devices} == {MN, MN2} and len(points) == 3


def test_run_in_transaction_commits_or_rolls_back(registered: Store) -> None:
    registered.run_in_transaction(  # type: ignore[attr-defined]
        lambda conn: conn.execute("INSERT INTO meta (key, value) VALUES ('contract', 'kept')"))

    def half(conn: Any) -> None:
        conn.execute("INSERT INTO meta (key, value) VALUES ('contract2', 'lost')")
        raise RuntimeError("job failed")

    with pytest.raises(RuntimeError):
        registered.run_in_transaction(half)  # type: ignore[attr-defined]
    assert sql(registered, "SELECT key, value FROM meta WHERE key LIKE 'contract%'") == [("contract", "kept")]


# ------------------------------------------------------------------ failures


def test_errors_that_cannot_pass_are_not_transient(registered: Store) -> None:
    with pytest.raises(Exception) as caught:
        registered.run_in_transaction(lambda conn: conn.execute("SELECT * FROM no_such_table"))  # type: ignore[attr-defined]
    assert not registered.is_transient(caught.value)
    assert not registered.is_transient(ValueError("not a database error"))


def test_a_lost_connection_is_transient_and_the_next_call_reconnects(registered: Store, tmp_path: Path) -> None:
    if isinstance(registered, SqliteStore):
        # SQLite's transient failure: another connection holds the write lock
        other = sqlite3.connect(registered.path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        registered.db.execute("PRAGMA busy_timeout=0")
        with pytest.raises(sqlite3.OperationalError) as caught:
            registered.write(readings_batch(registered, Kind.RTD, [("a21026", "Avg", T0, 1.0, "N")]))
        assert registered.is_transient(caught.value)
        other.execute("ROLLBACK")
        other.close()
        registered.write(readings_batch(registered, Kind.RTD, [("a21026", "Avg", T0, 1.0, "N")]))
        assert [r.value for r in registered.readings(MN, Kind.RTD)] == [1.0]
        return
    store: Any = registered
    registered.write(readings_batch(registered, Kind.RTD, [("a21026", "Avg", T0, 1.0, "N")]))
    with psycopg.connect(BASE_DSN, autocommit=True) as admin:
        writer_pid = store._conns.writer().info.backend_pid
        with store._conns.pool.connection() as reader:
            reader_pid = reader.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", ([writer_pid, reader_pid],))
        deadline = time.monotonic() + 5
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                            ([writer_pid, reader_pid],)).fetchone() != (0,):
            assert time.monotonic() < deadline, "the backends were not terminated"
            time.sleep(0.01)
    with pytest.raises(psycopg.OperationalError) as caught:
        registered.write(readings_batch(registered, Kind.RTD, [("a21026", "Avg", T0 + MIN, 2.0, "N")]))
    assert registered.is_transient(caught.value)
    # the retry the writer makes finds a new connection; the reader pool replaced its own
    registered.write(readings_batch(registered, Kind.RTD, [("a21026", "Avg", T0 + MIN, 2.0, "N")]))
    assert [r.value for r in registered.readings(MN, Kind.RTD)] == [1.0, 2.0]
    assert store._conns.writer().info.backend_pid != writer_pid


# ------------------------------------------------------------------ opening


def test_open_store_refuses_what_it_cannot_open(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is not a store address: use sqlite:///PATH"):
        open_store("mysql://db/forewarn", Catalogue())
    with pytest.raises(StoreError, match="no forewarn database at"):
        open_store(f"sqlite:///{tmp_path / 'absent.db'}", Catalogue(), create=False)
    port = port_nobody_listens_on()
    with pytest.raises(StoreError) as caught:
        open_store(f"postgresql://postgres@127.0.0.1:{port}/test?connect_timeout=2", Catalogue())
    message = str(caught.value)
    assert f"127.0.0.1:{port}/test" in message and "check that the server runs" in message
    assert "\n" not in message


def test_open_store_without_create_refuses_an_empty_database(pg_dsn: str) -> None:
    with pytest.raises(StoreError, match="no forewarn database at"):
        open_store(pg_dsn, Catalogue(), create=False)
    open_store(pg_dsn, Catalogue()).close()
    open_store(pg_dsn, Catalogue(), create=False).close()


def port_nobody_listens_on() -> int:
    """A loopback port just bound and released, so that nothing listens on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
