"""Registers to a value: by data type, byte order and scale (pure, no I/O).

Modbus says nothing about values wider than one 16-bit register, so devices differ in how they
lay out a 32- or 64-bit value across registers. The usual names spell the bytes of a 32-bit
value A (most significant) to D as they arrive: ``ABCD`` big-endian, ``CDAB`` words swapped
(most PLCs and meters that send floats "little-endian"), ``BADC`` bytes swapped within each
word, ``DCBA`` little-endian. The same two swaps apply to 64-bit values; a 16-bit value only
feels the byte swap. Types and orders are tables, so a new one is a row, not a branch.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["BIT_FUNCTIONS", "BYTE_ORDERS", "FUNCTIONS", "TYPES", "ByteOrder", "DataType", "decode", "decode_bits"]


@dataclass(frozen=True, slots=True)
class DataType:
    """A type's width in registers and its big-endian ``struct`` format (None: one bit)."""

    registers: int
    fmt: str | None


@dataclass(frozen=True, slots=True)
class ByteOrder:
    """How the device's registers differ from big-endian: register order reversed, bytes swapped in each."""

    swap_words: bool
    swap_bytes: bool


TYPES: dict[str, DataType] = {
    "bool": DataType(1, None),  # a coil or discrete input (functions 1 and 2)
    "u16": DataType(1, ">H"),
    "i16": DataType(1, ">h"),
    "u32": DataType(2, ">I"),
    "i32": DataType(2, ">i"),
    "f32": DataType(2, ">f"),
    "u64": DataType(4, ">Q"),
    "i64": DataType(4, ">q"),
    "f64": DataType(4, ">d"),
}

BYTE_ORDERS: dict[str, ByteOrder] = {
    "ABCD": ByteOrder(swap_words=False, swap_bytes=False),
    "CDAB": ByteOrder(swap_words=True, swap_bytes=False),
    "BADC": ByteOrder(swap_words=False, swap_bytes=True),
    "DCBA": ByteOrder(swap_words=True, swap_bytes=True),
}

#: Modbus read functions by code: what each reads
FUNCTIONS: dict[int, str] = {1: "coils", 2: "discrete inputs", 3: "holding registers", 4: "input registers"}
#: the functions that read bits (type ``bool`` only); the others read 16-bit registers
BIT_FUNCTIONS = frozenset({1, 2})


def decode(registers: Sequence[int], type_name: str, order_name: str, scale: float = 1.0,
           offset: float = 0.0) -> float:
    """The value the registers hold: ``raw * scale + offset``; ``registers`` as read, in address
    order. Raises ValueError for a count that does not fit the type, KeyError for an unknown name."""
    kind = TYPES[type_name]
    order = BYTE_ORDERS[order_name]
    if kind.fmt is None:
        raise ValueError("bool is read by decode_bits")
    if len(registers) != kind.registers:
        raise ValueError(f"{type_name} takes {kind.registers} registers, got {len(registers)}")
    words = list(reversed(registers)) if order.swap_words else list(registers)
    data = b"".join((w & 0xFFFF).to_bytes(2, "little" if order.swap_bytes else "big") for w in words)
    (raw,) = struct.unpack(kind.fmt, data)
    return float(raw) * scale + offset


def decode_bits(bit: bool, scale: float = 1.0, offset: float = 0.0) -> float:
    """A coil or discrete input as a number: 1 or 0, scaled like any value."""
    return float(bool(bit)) * scale + offset
