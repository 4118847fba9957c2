"""Registers to values, from known byte patterns (the words as a device sends them)."""

from __future__ import annotations

import pytest

from forewarn.protocols.modbus.decode import BYTE_ORDERS, TYPES, decode, decode_bits
from forewarn.protocols.modbus.poller import blocks_of
from forewarn.store.modbus import ModbusRegister

# 123.456 as an IEEE 754 single is 0x42F6E979: bytes A=42 B=F6 C=E9 D=79
F32_ABCD = [0x42F6, 0xE979]
F32_CDAB = [0xE979, 0x42F6]
F32_BADC = [0xF642, 0x79E9]
F32_DCBA = [0x79E9, 0xF642]


@pytest.mark.parametrize(("order", "words"), [("ABCD", F32_ABCD), ("CDAB", F32_CDAB), ("BADC", F32_BADC),
                                               ("DCBA", F32_DCBA)])
def test_f32_in_each_byte_order(order: str, words: list[int]) -> None:
    assert decode(words, "f32", order) == pytest.approx(123.456, rel=1e-7)


def test_a_wrong_order_gives_another_number() -> None:
    assert decode(F32_CDAB, "f32", "ABCD") != pytest.approx(123.456, rel=1e-3)


def test_sixteen_bit_values_signed_unsigned_and_byte_swapped() -> None:
    assert decode([0xFF38], "i16", "ABCD") == -200.0
    assert decode([0xFF38], "u16", "ABCD") == 65336.0
    assert decode([0x38FF], "i16", "BADC") == -200.0
    assert decode([0x38FF], "i16", "CDAB") == 14591.0  # a word swap means nothing to one register


def test_thirty_two_and_sixty_four_bit_integers() -> None:
    assert decode([0x0001, 0x86A0], "u32", "ABCD") == 100000.0
    assert decode([0x86A0, 0x0001], "u32", "CDAB") == 100000.0
    assert decode([0xFFFF, 0xFFFE], "i32", "ABCD") == -2.0
    # 1.5 as a double: 0x3FF8000000000000
    assert decode([0x3FF8, 0, 0, 0], "f64", "ABCD") == 1.5
    assert decode([0, 0, 0, 0x3FF8], "f64", "CDAB") == 1.5
    assert decode([0, 0, 0, 0xF83F], "f64", "DCBA") == 1.5
    assert decode([0, 0, 0, 1], "u64", "ABCD") == 1.0


def test_scale_and_offset() -> None:
    assert decode([1234], "u16", "ABCD", scale=0.1) == pytest.approx(123.4)
    assert decode([1000], "i16", "ABCD", scale=0.01, offset=-5) == pytest.approx(5.0)
    assert decode_bits(True) == 1.0 and decode_bits(False, scale=2) == 0.0


def test_a_count_that_does_not_fit_the_type_is_refused() -> None:
    with pytest.raises(ValueError, match="f32 takes 2 registers"):
        decode([1], "f32", "ABCD")
    assert set(BYTE_ORDERS) == {"ABCD", "CDAB", "BADC", "DCBA"}
    assert {"u16", "i16", "u32", "i32", "f32", "f64"} <= set(TYPES)


def _reg(code: str, address: int, function: int = 3, type_: str = "u16") -> ModbusRegister:
    return ModbusRegister(code, "Rtd", address, function, type_, "ABCD", 1.0, 0.0, "")


def test_contiguous_registers_of_one_function_are_read_together() -> None:
    blocks = blocks_of((_reg("a", 0), _reg("b", 1, type_="f32"), _reg("c", 3), _reg("d", 10), _reg("e", 0, 4)))
    assert [(b.function, b.start, b.count, [r.code for r in b.registers]) for b in blocks] == [
        (3, 0, 4, ["a", "b", "c"]), (3, 10, 1, ["d"]), (4, 0, 1, ["e"])]
