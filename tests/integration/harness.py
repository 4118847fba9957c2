"""A real platform on loopback and a fake device that speaks HJ 212 over a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import csv
from collections.abc import AsyncIterator
from pathlib import Path

from forewarn.app import Platform
from forewarn.cli.registry import import_files
from forewarn.config import Settings, load_settings
from forewarn.protocols.hj212.codec import Frame, parse, wrap
from forewarn.protocols.hj212.framing import StreamFramer

HEADER = ["region_code", "region_name", "parent_region_code", "enterprise", "site", "site_type",
          "longitude", "latitude", "mn", "password", "interval_s", "leniency"]


def registry_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    """A devices sheet with sensible defaults for the columns a test does not care about."""
    defaults = {"region_code": "451202", "region_name": "金城江区", "parent_region_code": "451200",
                "enterprise": "河池市液化石油气公司", "site": "储配站", "site_type": "lpg_station",
                "longitude": "108.06", "latitude": "24.69", "password": "123456",
                "interval_s": "30", "leniency": ""}
    with path.open("w", encoding="utf-8", newline="") as out:
        w = csv.DictWriter(out, HEADER)
        w.writeheader()
        for row in rows:
            w.writerow({**defaults, **row})
    return path


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"data_dir": tmp_path / "data", "hj212_host": "127.0.0.1",
                                 "hj212_port": 0, "registry_poll_s": 0.1}
    values.update(overrides)
    return load_settings(None, **values)


def register(settings: Settings, tmp_path: Path, rows: list[dict[str, str]]) -> None:
    import_files(settings, [registry_csv(tmp_path / "devices.csv", rows)])


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform(settings)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()


def segment(mn: str, cp: str, *, cn: str = "2011", pw: str = "123456", flag: int = 5,
            qn: str = "20261122080000123") -> str:
    return f"QN={qn};ST=22;CN={cn};PW={pw};MN={mn};Flag={flag};CP=&&{cp}&&"


def data_packet(mn: str, cp: str = "DataTime=20261122080000;a34002-Rtd=45.2,a34002-Flag=N",
                **kw: object) -> bytes:
    return wrap(segment(mn, cp, **kw))  # type: ignore[arg-type]


class FakeDevice:
    """One TCP connection to the platform, reading its answers as frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.framer = StreamFramer()
        self.pending: list[Frame] = []

    @classmethod
    async def connect(cls, port: int) -> FakeDevice:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self, timeout: float = 3.0) -> Frame:
        """The next frame the platform sends; fails the test after ``timeout``."""
        while not self.pending:
            chunk = await asyncio.wait_for(self.reader.read(4096), timeout)
            if not chunk:
                raise ConnectionError("the platform closed the connection")
            self.pending += [parse(f.data) for f in self.framer.feed(chunk)]
        return self.pending.pop(0)

    async def no_answer(self, within: float = 0.5) -> None:
        try:
            frame = await self.answer(within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected answer {frame}")

    async def closed_by_peer(self, within: float = 3.0) -> bool:
        try:
            return await asyncio.wait_for(self.reader.read(4096), within) == b""
        except (TimeoutError, ConnectionError):
            return False

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def eventually(check: object, timeout: float = 5.0) -> None:
    """Wait until ``check()`` is true (for effects that cross the writer thread)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if check():  # type: ignore[operator]
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def report(settings: Settings, packets: list[bytes]) -> None:
    """Start the platform, send each packet from one device connection and wait for its 9014."""

    async def send() -> None:
        async with running(settings) as platform:
            dev = await FakeDevice.connect(platform.hj212_port)
            for packet in packets:
                await dev.send(packet)
                assert (await dev.answer()).cn == "9014"
            await dev.close()

    asyncio.run(send())


async def send_stored(platform: Platform, *packets: bytes) -> None:
    """Send from one device connection; each packet must be answered 9014 (stored, alarms included)."""
    dev = await FakeDevice.connect(platform.hj212_port)
    for packet in packets:
        await dev.send(packet)
        assert (await dev.answer()).cn == "9014"
    await dev.close()
