"""The HJ 212 CRC: a table-driven form of the algorithm in the standard's Appendix A.

It is *not* CRC-16/MODBUS: the register is shifted right by 8 and then xored with the byte
before the 8 reflected shifts, so each step reduces to ``TABLE[(crc >> 8) ^ byte]``. Check
values: ``b""`` gives 0xFFFF and ``b"123456789"`` gives 0x2F80. The Modbus CRC and its
byte-swapped form are here too, because some devices in the field send those instead.
"""

from __future__ import annotations


def _make_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def hj212_crc(data: bytes) -> int:
    """HJ 212 CRC of a data segment (the bytes from ``QN=`` to the closing ``&&``)."""
    table = _TABLE
    crc = 0xFFFF
    for byte in data:
        crc = table[(crc >> 8) ^ byte]
    return crc


def modbus_crc(data: bytes) -> int:
    """CRC-16/MODBUS as an integer (low byte is transmitted first on a Modbus wire)."""
    table = _TABLE
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def swap_bytes(value: int) -> int:
    """Swap the two bytes of a 16-bit value (for devices that print the Modbus CRC low byte first)."""
    return ((value & 0xFF) << 8) | (value >> 8)
