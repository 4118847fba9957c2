"""The quarantine API on a real platform: packets of unknown MNs sent over the real socket are
listed for the city administrator only, read back as text, claimed to a site (their readings
stored as if the device had been registered all along) or discarded; each change audited."""

from __future__ import annotations

import httpx

from forewarn.access.audit import history
from forewarn.app import Platform
from forewarn.catalogue import Catalogue
from forewarn.store.sqlite import SqliteStore
from tests.integration.api import HECHI_MN, TS_MS, Fleet, assert_problem, bearer, rows, run
from tests.integration.harness import data_packet, send_stored

NEW_MN = "451202NEWGAS000000000007"
WRONG_PW_MN = "451202NEWGAS000000000008"
JUNK_MN = "TESTRIG"


def reading(mn: str, minute: int, value: float) -> bytes:
    return data_packet(mn, f"DataTime=2026112208{minute:02d}00;a34002-Rtd={value},a34002-Flag=N",
                       qn=f"2026112208{minute:02d}00000")


def test_unknown_devices_are_listed_and_claimed_by_the_city_administrator(fleet: Fleet) -> None:
    t = fleet.tokens
    city = bearer(t["city"])

    async def scenario(platform: Platform, client: httpx.AsyncClient) -> None:
        await send_stored(platform, reading(NEW_MN, 0, 45.2), reading(NEW_MN, 1, 46.0), reading(JUNK_MN, 0, 1),
                   reading(WRONG_PW_MN, 0, 3))
        listed = await client.get("/api/v1/quarantine", headers=city)
        assert listed.status_code == 200, listed.text
        items = {i["mn"]: i for i in listed.json()["items"]}
        assert set(items) == {NEW_MN, JUNK_MN, WRONG_PW_MN} and listed.json()["total"] == 3
        new = items[NEW_MN]
        assert new["packets"] == 2 and new["registered"] is False and new["refused"] is None
        assert new["first_seen"].endswith("+08:00") and new["last_peer"].startswith("127.0.0.1")
        for who in ("hechi", "datong", "gasco", "factory"):
            assert_problem(await client.get("/api/v1/quarantine", headers=bearer(t[who])), 403)
            assert_problem(await client.get(f"/api/v1/quarantine/{NEW_MN}", headers=bearer(t[who])), 403)
            assert_problem(await client.post(f"/api/v1/quarantine/{NEW_MN}/claim", json={"site_id": 1},
                                             headers=bearer(t[who])), 403)
        csv = await client.get("/api/v1/quarantine", params={"format": "csv"}, headers=city)
        lines = csv.content.decode("utf-8-sig").splitlines()
        assert lines[0] == "mn,first_seen,last_seen,packets,last_peer,refused,registered" and len(lines) == 4

        packets = (await client.get(f"/api/v1/quarantine/{NEW_MN}", headers=city)).json()
        assert packets["total"] == 2
        assert f"MN={NEW_MN}" in packets["items"][0]["raw"] and "a34002-Rtd=45.2" in packets["items"][0]["raw"]
        assert_problem(await client.get("/api/v1/quarantine/NOBODY", headers=city), 404)

        site_id = platform.read_store.db.execute(  # type: ignore[union-attr]
            "SELECT site_id FROM devices WHERE mn = ?", (HECHI_MN,)).fetchone()[0]
        for bad in ({}, {"site_id": "one"}, {"site_id": site_id, "leniency": "anything_goes"},
                    {"site_id": site_id, "interval_s": 0}, {"site_id": site_id, "password": "a;b"},
                    {"site_id": site_id, "owner": "x"}):
            assert_problem(await client.post(f"/api/v1/quarantine/{NEW_MN}/claim", json=bad, headers=city), 400)
        assert_problem(await client.post(f"/api/v1/quarantine/{NEW_MN}/claim", json={"site_id": 9999}, headers=city),
                       404)
        assert_problem(await client.post("/api/v1/quarantine/NOBODY/claim", json={"site_id": site_id}, headers=city),
                       404)

        claimed = await client.post(f"/api/v1/quarantine/{NEW_MN}/claim",
                                    json={"site_id": site_id, "password": "123456", "interval_s": 30,
                                          "device_kind": "gas detector"}, headers=city)
        assert claimed.status_code == 200, claimed.text
        answer = claimed.json()
        assert answer["claim"] == {"stored": 2, "refused": 0, "reasons": {}}
        assert (answer["device"]["mn"], answer["device"]["site"], answer["device"]["interval_s"]) == (NEW_MN, "储配站", 30)
        assert "password" not in answer["device"]
        assert_problem(await client.post(f"/api/v1/quarantine/{NEW_MN}/claim", json={"site_id": site_id},
                                         headers=city), 409)

        # the district now sees the device's readings through the ordinary series endpoint
        point_id = platform.read_store.db.execute(  # type: ignore[union-attr]
            "SELECT p.id FROM points p JOIN devices d ON d.id = p.device_id WHERE d.mn = ? AND p.code = 'a34002'",
            (NEW_MN,)).fetchone()[0]
        series = await client.get(f"/api/v1/points/{point_id}/series",
                                  params={"from": str(TS_MS), "to": str(TS_MS + 120_000)}, headers=bearer(t["hechi"]))
        assert series.status_code == 200, series.text
        assert [p[1] for p in series.json()["points"]] == [45.2, 46.0]
        # the live path knows the device at once: a new packet is stored, not quarantined
        await send_stored(platform, reading(NEW_MN, 2, 47.5))
        listed = (await client.get("/api/v1/quarantine", headers=city)).json()
        assert {i["mn"] for i in listed["items"]} == {JUNK_MN, WRONG_PW_MN}

        # a wrong password keeps the packets in quarantine, with the reason
        wrong = (await client.post(f"/api/v1/quarantine/{WRONG_PW_MN}/claim",
                                   json={"site_id": site_id, "password": "654321"}, headers=city)).json()
        assert wrong["claim"]["stored"] == 0 and wrong["claim"]["refused"] == 1
        [reason] = wrong["claim"]["reasons"]
        assert reason.startswith("wrong_password")
        still = {i["mn"]: i for i in (await client.get("/api/v1/quarantine", headers=city)).json()["items"]}
        assert still[WRONG_PW_MN]["registered"] is True and still[WRONG_PW_MN]["refused"].startswith("wrong_password")

        assert_problem(await client.delete(f"/api/v1/quarantine/{JUNK_MN}", headers=bearer(t["hechi"])), 403)
        gone = await client.delete(f"/api/v1/quarantine/{JUNK_MN}", headers=city)
        assert gone.status_code == 200 and gone.json() == {"mn": JUNK_MN, "discarded": 1}
        assert_problem(await client.delete(f"/api/v1/quarantine/{JUNK_MN}", headers=city), 404)
        assert {i["mn"] for i in (await client.get("/api/v1/quarantine", headers=city)).json()["items"]} == {WRONG_PW_MN}

    run(fleet.settings, scenario)
    assert [(ts - TS_MS, value) for _, _, ts, value, _ in rows(fleet.settings, NEW_MN)] == [
        (0, 45.2), (60_000, 46.0), (120_000, 47.5)]
    store = SqliteStore(fleet.settings.db_path, Catalogue())
    try:
        [claim] = history(store.db, "device", NEW_MN)
        [discard] = history(store.db, "quarantine", JUNK_MN)
    finally:
        store.close()
    assert (claim.action, claim.actor, claim.before) == ("device.claim", "city", None)
    assert claim.after is not None and claim.after["site"] == "储配站" and "password" not in claim.after
    assert (discard.action, discard.actor, discard.before and discard.before["packets"]) == (
        "quarantine.discard", "city", 1)
