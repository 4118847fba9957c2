"""Which known HJ 212 deviations are tolerated, for whom, and the setting a refusal names."""

from __future__ import annotations

from forewarn.protocols.hj212.codec import Quirk
from forewarn.protocols.hj212.quirks import (
    LENIENCY_WORDS,
    QUIRKS,
    STRICT,
    TOLERATED_BY_DEFAULT,
    allowed_quirks,
    refusal_hint,
)
from forewarn.registry.files import QUIRKS as SHEET_WORDS


def test_every_known_deviation_has_a_decided_default_with_its_reason() -> None:
    assert sorted(q.quirk for q in QUIRKS) == sorted(Quirk)  # a new quirk must say whether it is tolerated
    assert all(q.why for q in QUIRKS)
    # another algorithm's CRC and a wrong length: the frame's own checks fail, so never by default
    assert {"crc_modbus", "crc_modbus_swapped", "length_mismatch"}.isdisjoint(TOLERATED_BY_DEFAULT)
    assert {"crc_lowercase", "qn_format", "datatime_ms"} <= TOLERATED_BY_DEFAULT  # what the field sends
    assert LENIENCY_WORDS == SHEET_WORDS == {q.value for q in Quirk} | {STRICT}


def test_the_default_a_strict_device_and_a_strict_platform() -> None:
    assert allowed_quirks(frozenset(), False) == TOLERATED_BY_DEFAULT
    assert allowed_quirks(frozenset({"crc_modbus"}), False) == TOLERATED_BY_DEFAULT | {"crc_modbus"}
    assert allowed_quirks(frozenset({STRICT}), False) == frozenset()
    assert allowed_quirks(frozenset({STRICT, "crc_lowercase"}), False) == {"crc_lowercase"}
    assert allowed_quirks(frozenset(), True) == frozenset()
    assert allowed_quirks(frozenset({"datatime_ms"}), True) == {"datatime_ms"}


def test_a_refusal_names_the_setting_that_would_accept_it() -> None:
    assert refusal_hint(Quirk.CRC_MODBUS, frozenset(), False) == "accepted if the device's leniency lists crc_modbus"
    assert refusal_hint(Quirk.CRC_LOWERCASE, frozenset({STRICT}), False) == (
        "this device is strict: list crc_lowercase in its leniency, or drop strict")
    assert refusal_hint(Quirk.DATATIME_MS, frozenset(), True) == (
        "hj212_strict is on: list datatime_ms in the device's leniency, or set it to 0")
    # the rejection's detail is cut at 120 characters; the hint comes first and fits
    assert max(len(refusal_hint(q, frozenset({STRICT}), True)) for q in Quirk) < 90
