"""One Modbus TCP device, polled: a task that reads its registers every interval and stores them.

Unlike HJ 212 or MQTT, a Modbus device says nothing until asked, so "heard" means "answered a
poll": each poll whose every read answered becomes one batch of real-time readings (ts = the
poll's time, flag N) with the device's activity, through the same pipeline as every adapter;
the device is then online by :mod:`forewarn.online`'s one definition. A poll that fails (no
answer within ``timeout_s`` after ``retries`` retries, a refused connection, an exception
response) stores nothing, is counted as the rejection ``modbus_timeout`` or ``modbus_error``
with the device's MN, and the connection is dropped; the next attempt reconnects after a
backoff that doubles from the interval up to ``backoff_max_s``. A device that stops answering
is thus simply not heard, and goes offline like any other.

Pollers are spread over their interval by device id, so 10,000 devices are not asked at once.
Registers are read in blocks: registers of one function whose addresses touch or overlap are
read with one request (up to the protocol's 125 registers or 2000 bits), the rest one by one.
Everything runs on the event loop (pymodbus's asyncio client), nothing blocks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from forewarn.model import Kind
from forewarn.protocols.modbus.decode import BIT_FUNCTIONS, TYPES, decode, decode_bits
from forewarn.store.base import IngestBatch, ReadingBatch, ReadingRow
from forewarn.store.modbus import ModbusMap, ModbusRegister
from forewarn.store.writer import WriteDone

__all__ = ["Block", "DevicePoller", "PollPort", "blocks_of"]

log = logging.getLogger(__name__)

#: the most one read request may ask for (Modbus application protocol, 6.1-6.4)
MAX_REGISTERS = 125
MAX_BITS = 2000
#: pymodbus's read method for each function code
READ_METHOD = {1: "read_coils", 2: "read_discrete_inputs", 3: "read_holding_registers", 4: "read_input_registers"}


class PollPort(Protocol):
    """What a poller needs of the pipeline."""

    def submit(self, batch: IngestBatch, on_stored: WriteDone | None = None) -> None: ...

    def reject(self, reason: str, *, mn: str = "", detail: str = "", peer: str = "") -> None: ...

    def now_ms(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Block:
    """One read request: ``count`` registers (or bits) of ``function`` from ``start``."""

    function: int
    start: int
    count: int
    registers: tuple[ModbusRegister, ...]


def blocks_of(registers: tuple[ModbusRegister, ...]) -> list[Block]:
    """The read requests a map needs: per function, registers whose spans touch or overlap
    joined while the request stays within the protocol's limit."""
    out: list[Block] = []
    by_function: dict[int, list[ModbusRegister]] = {}
    for r in registers:
        by_function.setdefault(r.function, []).append(r)
    for function, regs in sorted(by_function.items()):
        limit = MAX_BITS if function in BIT_FUNCTIONS else MAX_REGISTERS
        regs.sort(key=lambda r: r.address)
        start, end = -1, -1  # end: one past the last address
        members: list[ModbusRegister] = []
        for r in regs:
            r_end = r.address + TYPES[r.type].registers
            if members and r.address <= end and max(end, r_end) - start <= limit:
                end = max(end, r_end)
                members.append(r)
                continue
            if members:
                out.append(Block(function, start, end - start, tuple(members)))
            start, end, members = r.address, r_end, [r]
        if members:
            out.append(Block(function, start, end - start, tuple(members)))
    return out


class PollFailed(Exception):
    """A poll that stores nothing: the rejection's reason and what happened."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


ClientFactory = Callable[..., Any]


class DevicePoller:
    """Polls one device until cancelled (:meth:`run`); :meth:`poll` is one poll, for tests too."""

    def __init__(self, device: ModbusMap, port: PollPort, *, backoff_max_s: float = 60.0,
                 client_factory: ClientFactory = AsyncModbusTcpClient) -> None:
        self.device = device
        self.port = port
        self.backoff_max_s = backoff_max_s
        self.blocks = blocks_of(device.registers)
        self.client: Any = None
        self._client_factory = client_factory
        self.failures = 0  # in a row
        c = device.connection
        self.peer = f"{c.host}:{c.port}"

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = float(self.device.connection.interval_s)
        # devices spread over the interval (by id, the same each start), not all asked in one burst
        next_at = loop.time() + (self.device.device_id * 0.6180339887) % 1.0 * interval
        try:
            while True:
                await asyncio.sleep(max(0.0, next_at - loop.time()))
                started = loop.time()
                ok = await self.poll()
                if ok:
                    next_at = started + interval
                    if next_at < loop.time():  # a poll longer than the interval: the next one now, not a burst
                        next_at = loop.time()
                else:
                    wait = min(interval * 2 ** (self.failures - 1), max(interval, self.backoff_max_s))
                    next_at = started + wait
        finally:
            self.close()

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
            self.client = None

    async def poll(self) -> bool:
        """Read every register once; store them (True) or count the failure (False)."""
        c = self.device.connection
        budget = c.timeout_s * (c.retries + 1) * (len(self.blocks) + 1) + 1.0  # pymodbus's own timeouts come first
        now = self.port.now_ms()
        try:
            async with asyncio.timeout(budget):
                rows = await self._read(now)
        except PollFailed as exc:
            return self._failed(exc.reason, exc.detail)
        except (TimeoutError, ModbusIOException) as exc:
            return self._failed("modbus_timeout", f"no answer within {c.timeout_s:g} s after {c.retries} "
                                                  f"retries ({exc})")
        except (ConnectionException, ModbusException, OSError) as exc:
            return self._failed("modbus_error", f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # an answer shorter than asked, a library bug: counted, and the task lives on
            log.exception("Modbus %s: the poll failed", self.device.mn)
            return self._failed("modbus_error", f"{type(exc).__name__}: {exc}")
        if self.failures:
            log.info("Modbus %s answers again after %d failed poll(s)", self.device.mn, self.failures)
        self.failures = 0
        batch = IngestBatch()
        if rows:
            batch.readings.append(ReadingBatch(self.device.device_id, Kind.RTD, rows))
            batch.counters["packets_accepted"] += 1
        batch.counters["modbus_polls"] += 1
        batch.note_activity(self.device.device_id, now, now)
        self.port.submit(batch)
        return True

    def _failed(self, reason: str, detail: str) -> bool:
        self.failures += 1
        self.close()  # a late answer must not be taken for the next request's: start afresh
        self.port.reject(reason, mn=self.device.mn, detail=f"{self.peer} unit {self.device.connection.unit_id}: "
                                                            f"{detail}", peer=self.peer)
        return False

    async def _connected(self) -> Any:
        if self.client is not None and self.client.connected:
            return self.client
        self.close()
        c = self.device.connection
        # pymodbus's own reconnection off (reconnect_delay 0): this poller decides when to try again
        client = self._client_factory(c.host, port=c.port, timeout=c.timeout_s, retries=c.retries,
                                      reconnect_delay=0, name=f"modbus {self.device.mn}")
        self.client = client
        if not await client.connect():
            raise PollFailed("modbus_error", "connection refused or unreachable")
        return client

    async def _read(self, now: int) -> list[ReadingRow]:
        client = await self._connected()
        unit = self.device.connection.unit_id
        rows: list[ReadingRow] = []
        for block in self.blocks:
            answer = await getattr(client, READ_METHOD[block.function])(block.start, count=block.count,
                                                                        device_id=unit)
            if answer.isError():
                raise PollFailed("modbus_error", f"function {block.function} at {block.start} (+{block.count}): "
                                                 f"{answer}")
            for r in block.registers:
                offset = r.address - block.start
                if block.function in BIT_FUNCTIONS:
                    value = decode_bits(answer.bits[offset], r.scale, r.offset)
                else:
                    value = decode(answer.registers[offset:offset + TYPES[r.type].registers], r.type, r.byte_order,
                                   r.scale, r.offset)
                if math.isfinite(value):
                    rows.append((r.code, r.field, now, value, "N"))
                else:  # a float register holding NaN (a sensor's "no value"): not a reading
                    self.port.reject("bad_value", mn=self.device.mn, detail=f"{r.code}-{r.field}: {value}",
                                     peer=self.peer)
        return rows
