"""The asyncio shell around the pure simulator: one TCP connection per device, like the field.

Each device connects, sends what :func:`forewarn.sim.packets.render` gives it at each tick,
waits for the platform's 9014 answer (same QN), re-sends an unanswered upload after
``resend_after_s`` up to ``max_resends`` times (HJ 212's defaults: 10 s, 3 times), and
reconnects with exponential backoff when the connection drops. A planner task injects
incidents. ``speed`` makes simulated time run faster than the wall clock: intervals,
incident durations, re-send timeouts and backoff shrink by that factor, and the timestamps
in the packets run ahead accordingly; ``duration_s`` is always wall-clock seconds.
``history_s`` starts the simulated clock that far in the past and replays it fast until it
meets the present (the demo: charts with data in them, alarms that need minutes raised).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from forewarn.protocols.hj212.codec import parse
from forewarn.protocols.hj212.framing import FrameTooLarge, StreamFramer
from forewarn.sim.fleet import SimDevice, load_fleet, load_profiles
from forewarn.sim.incidents import Incident, IncidentKind
from forewarn.sim.packets import render
from forewarn.sim.planner import DEFAULT_INCIDENT_RATE, IncidentPlanner, Scheduled
from forewarn.sim.profiles import IncidentSpec, ScriptedIncident
from forewarn.sim.rhythm import stable_unit

__all__ = ["SimClock", "SimStats", "run_simulator"]

_DATA_ANSWER = "9014"
#: Shortest wall-clock pause between reconnect attempts, whatever the speed.
_MIN_BACKOFF_WALL_S = 0.05
#: Shortest wall-clock wait for an answer before re-sending while the history is replayed: at
#: 120x, a device would otherwise re-send whatever a busy platform took 80 ms to commit.
_MIN_RESEND_WALL_S = 0.5


@dataclass(slots=True)
class SimStats:
    """What happened during a run, for the CLI's summary and for tests."""

    sent: int = 0  # uploads written the first time (not counting re-sends or garbage)
    answered: int = 0  # 9014 answers matched to an upload waiting for one
    resent: int = 0  # re-sends of unanswered uploads
    unanswered: int = 0  # uploads given up on after the last re-send
    incidents: int = 0
    connection_errors: int = 0  # failed connects and dropped connections

    def summary(self) -> str:
        """One line for the log."""
        return (f"simulator: sent={self.sent} answered={self.answered} resent={self.resent} "
                f"unanswered={self.unanswered} incidents={self.incidents} "
                f"connection_errors={self.connection_errors}")


class SimClock:
    """Simulated time: runs ``speed`` times faster than ``wall`` from ``live_ms`` on.

    With ``history_ms``, it starts that much earlier (:attr:`start_ms`) and runs at
    ``replay_speed`` until it catches up with where it would be without the history; from
    then on it is the plain clock. Both pieces are straight lines, so the clock is continuous
    and never runs backwards.
    """

    def __init__(self, start_ms: int, speed: float, wall: Callable[[], float], *,
                 history_ms: int = 0, replay_speed: float = 60.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if history_ms and replay_speed <= speed:
            raise ValueError(f"replay_speed {replay_speed} must be above speed {speed}")
        self.live_ms = start_ms
        self.start_ms = start_ms - history_ms
        self.speed = speed
        self._fast = replay_speed if history_ms else speed
        #: wall seconds after which the replay has caught up
        self._catch_up_s = history_ms / 1000 / (self._fast - speed) if history_ms else 0.0
        self._wall = wall
        self._t0 = wall()

    def now_ms(self) -> int:
        """The simulated instant, epoch milliseconds."""
        elapsed = self._wall() - self._t0
        if elapsed < self._catch_up_s:
            return self.start_ms + int(elapsed * 1000 * self._fast)
        return self.live_ms + int(elapsed * 1000 * self.speed)

    @property
    def replaying(self) -> bool:
        """Whether the history is still being replayed."""
        return self._wall() - self._t0 < self._catch_up_s

    def span_ms(self, wall_s: float) -> int:
        """Simulated milliseconds that pass in ``wall_s`` wall seconds at the present rate."""
        return int(wall_s * 1000 * (self._fast if self.replaying else self.speed))

    def wall_delay(self, sim_ms: int) -> float:
        """Wall-clock seconds until the simulated instant ``sim_ms`` (0 if it has passed)."""
        if sim_ms < self.live_ms + self._catch_up_s * 1000 * self.speed:
            at = (sim_ms - self.start_ms) / 1000 / self._fast
        else:
            at = (sim_ms - self.live_ms) / 1000 / self.speed
        return max(0.0, at - (self._wall() - self._t0))


@dataclass(slots=True)
class _Pending:
    frame: bytes
    due_ms: int
    tries: int = 0


@dataclass(slots=True)
class _Settings:
    host: str
    port: int
    clock: SimClock
    stats: SimStats
    log: Callable[[str], None]
    resend_ms: int
    max_resends: int
    connect_timeout_s: float
    max_backoff_s: float
    #: whether a connection problem was logged since the last successful connect
    warned: bool = False


class _DeviceLink:
    """One device's connection, schedule and unanswered uploads."""

    def __init__(self, device: SimDevice, settings: _Settings) -> None:
        self.device = device
        self.incidents: list[Incident] = []
        self._s = settings
        self._pending: dict[str, _Pending] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._jitter = random.Random(device.mn)

    async def run(self) -> None:
        clock = self._s.clock
        interval_ms = self.device.interval_s * 1000
        # Stagger first ticks across the interval so the fleet does not send all at once.
        next_tick = clock.start_ms + int(stable_unit(self.device.mn, "stagger") * interval_ms)
        try:
            while True:
                if self._writer is None:
                    await self._connect()
                wake = min([next_tick, *(p.due_ms for p in self._pending.values())])
                await asyncio.sleep(clock.wall_delay(wake))
                now = clock.now_ms()
                if now >= next_tick:
                    await self._tick(next_tick)
                    next_tick += interval_ms
                    if next_tick < now:  # fell behind (a long reconnect): skip, do not burst
                        next_tick += (now - next_tick) // interval_ms * interval_ms + interval_ms
                await self._resend_due(clock.now_ms())
        finally:
            await self._disconnect()

    async def _tick(self, ms: int) -> None:
        # Past treatment-off incidents stay: the meter's energy total depends on them.
        self.incidents = [i for i in self.incidents
                          if i.end_ms > ms or i.kind is IncidentKind.TREATMENT_OFF]
        for packet in render(self.device, ms, self.incidents):
            if not await self._write(packet.frame):
                return
            if packet.retry_frame is not None:
                self._s.stats.sent += 1
                self._pending[packet.qn] = _Pending(packet.retry_frame, self._resend_at(self._s.clock.now_ms()))

    def _resend_at(self, now: int) -> int:
        clock = self._s.clock
        floor = clock.span_ms(_MIN_RESEND_WALL_S) if clock.replaying else 0
        return now + max(self._s.resend_ms, floor)

    async def _resend_due(self, now: int) -> None:
        for qn, pending in list(self._pending.items()):
            if pending.due_ms > now:
                continue
            if pending.tries >= self._s.max_resends:
                del self._pending[qn]
                self._s.stats.unanswered += 1
                continue
            pending.tries += 1
            pending.due_ms = self._resend_at(now)
            if self._writer is None or not await self._write(pending.frame):
                continue
            self._s.stats.resent += 1

    async def _write(self, frame: bytes) -> bool:
        writer = self._writer
        if writer is None:
            return False
        try:
            writer.write(frame)
            await writer.drain()
        except (ConnectionError, OSError) as exc:
            self._lost(f"write failed: {exc}")
            return False
        return True

    async def _connect(self) -> None:
        s = self._s
        backoff = 1.0
        while True:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(s.host, s.port), s.connect_timeout_s)
            except (OSError, TimeoutError) as exc:
                s.stats.connection_errors += 1
                if not s.warned:
                    s.warned = True
                    s.log(f"simulator: cannot connect to {s.host}:{s.port} "
                          f"(MN={self.device.mn}): {exc or type(exc).__name__}; "
                          "retrying with backoff")
                wall = min(backoff, s.max_backoff_s) / s.clock.speed
                await asyncio.sleep(max(_MIN_BACKOFF_WALL_S, wall * (0.5 + self._jitter.random())))
                backoff *= 2
                continue
            s.warned = False
            self._writer = writer
            self._reader_task = asyncio.create_task(self._read(reader, writer))
            return

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer = StreamFramer()
        try:
            while data := await reader.read(4096):
                for raw in framer.feed(data):
                    self._on_reply(raw.data, raw.crlf)
        except (ConnectionError, OSError, FrameTooLarge) as exc:
            if self._writer is writer:
                self._lost(f"read failed: {exc}")
            return
        if self._writer is writer:
            self._lost("closed by the platform")

    def _on_reply(self, data: bytes, crlf: bool) -> None:
        try:
            frame = parse(data, crlf=crlf)
        except ValueError:  # Hj212Error included
            return  # not ours to judge; a real device would ignore it too
        if frame.cn == _DATA_ANSWER and frame.qn is not None and frame.qn in self._pending:
            del self._pending[frame.qn]
            self._s.stats.answered += 1

    def _lost(self, why: str) -> None:
        """Forget the connection; the run loop reconnects at its next wake-up."""
        s = self._s
        s.stats.connection_errors += 1
        if not s.warned:
            s.warned = True
            s.log(f"simulator: connection of MN={self.device.mn} ({self.device.site}) lost: {why}")
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    async def _disconnect(self) -> None:
        writer, self._writer = self._writer, None
        task, self._reader_task = self._reader_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)


async def _plan(planner: IncidentPlanner, links: Mapping[str, _DeviceLink], s: _Settings) -> None:
    while (at := planner.next_at) is not None:
        await asyncio.sleep(s.clock.wall_delay(at))
        incident = planner.pop()
        if incident is None:
            continue
        links[incident.mn].incidents.append(incident)
        s.stats.incidents += 1
        s.log(incident.describe())


async def run_simulator(
    host: str,
    port: int,
    *,
    duration_s: float | None = None,
    seed: int | None = None,
    incident_rate: float = DEFAULT_INCIDENT_RATE,
    speed: float = 1.0,
    devices: Sequence[SimDevice] | None = None,
    log: Callable[[str], None] = print,
    start_ms: int | None = None,
    resend_after_s: float = 10.0,
    max_resends: int = 3,
    connect_timeout_s: float = 5.0,
    max_backoff_s: float = 30.0,
    incident_specs: Mapping[str, IncidentSpec] | None = None,
    history_s: float = 0.0,
    replay_speed: float = 60.0,
    opening: Sequence[ScriptedIncident] = (),
) -> SimStats:
    """Play the fleet (the seed fleet by default) against an HJ 212 server until stopped.

    Runs for ``duration_s`` wall-clock seconds, or until cancelled (the summary is logged
    either way; cancellation is re-raised). ``incident_rate`` is incidents per simulated
    minute across the fleet (0 for none); ``seed`` makes incidents repeatable. ``start_ms``
    sets the simulated start instant (now by default); ``resend_after_s`` and
    ``max_backoff_s`` are in simulated seconds. ``history_s``: the clock starts that long
    before ``start_ms`` and replays it at ``replay_speed`` (at least six times ``speed``).
    ``opening``: incidents at set instants (``at_s`` from ``start_ms``), besides the drawn ones.
    """
    fleet = [d for d in (load_fleet() if devices is None else devices) if d.protocol == "hj212"]
    specs = load_profiles().incidents if incident_specs is None else incident_specs
    loop = asyncio.get_running_loop()
    clock = SimClock(int(time.time() * 1000) if start_ms is None else start_ms, speed, loop.time,
                     history_ms=round(history_s * 1000), replay_speed=max(replay_speed, 6 * speed))
    stats = SimStats()
    settings = _Settings(host, port, clock, stats, log, round(resend_after_s * 1000), max_resends,
                         connect_timeout_s, max_backoff_s)
    links = {d.mn: _DeviceLink(d, settings) for d in fleet}
    scheduled = [Scheduled(clock.live_ms + round(o.at_s * 1000), IncidentKind(o.kind),
                           round(o.duration_s * 1000), o.site_types) for o in opening]
    # drawn incidents begin with the present: the replayed history holds only the opening
    planner = IncidentPlanner(fleet, specs, rate_per_min=incident_rate, seed=seed,
                              start_ms=clock.live_ms, scheduled=scheduled)
    replay = f", replaying the last {history_s / 60:g} min first" if history_s else ""
    log(f"simulator: {len(fleet)} devices -> {host}:{port}, speed x{speed:g}, seed {seed}, "
        f"{incident_rate:g} incidents/min{replay}")
    tasks = [asyncio.create_task(link.run(), name=f"sim-{mn}") for mn, link in links.items()]
    tasks.append(asyncio.create_task(_plan(planner, links, settings), name="sim-incidents"))
    try:
        done, _ = await asyncio.wait(tasks, timeout=duration_s,
                                     return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # a bug in a device task surfaces here instead of being lost
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        log(stats.summary())
    return stats
