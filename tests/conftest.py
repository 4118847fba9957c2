"""Shared fixtures: the protocol samples in ../shared, temporary data directories."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "samples"


@dataclass(frozen=True)
class FieldPacket:
    packet: bytes
    source: str
    label: str


def _sample_lines(name: str) -> list[str]:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} is not there (tests expect ../shared beside the project)")
    return [line.rstrip("\n") for line in path.read_text(encoding="utf-8").splitlines()
            if line.startswith("##")]


@pytest.fixture(scope="session")
def golden_packets() -> list[bytes]:
    return [line.encode() for line in _sample_lines("hj212-examples.txt")]


@pytest.fixture(scope="session")
def field_packets() -> list[FieldPacket]:
    packets = []
    for line in _sample_lines("hj212-field-packets.txt"):
        packet, source, label = line.split("\t")
        packets.append(FieldPacket(packet.encode("utf-8"), source, label))
    return packets
