"""The bus contract, run on the in-process bus and on NATS JetStream (a server of each test's own).

Every test publishes and listens through :class:`forewarn.bus.base.Bus` only; what it asserts is
what another process of the platform would notice: an event it missed, got twice or got late.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from forewarn.bus import (
    Bus,
    BusUnavailable,
    Delivery,
    Event,
    Idempotent,
    MemoryBroker,
    MemoryBus,
    ReadingsCommitted,
    RegistryChanged,
    open_bus,
    readings_subjects,
)
from tests.nats_server import NatsServer, free_port, nats_server

Connect = Callable[[], Awaitable[Bus]]
WAIT_S = 10.0


class Fixture:
    """How a test reaches the bus: a new connection each call (a new process, to the bus)."""

    def __init__(self, kind: str, server: NatsServer | None) -> None:
        self.kind = kind
        self.server = server
        self.broker = MemoryBroker()
        self.opened: list[Bus] = []

    async def connect(self) -> Bus:
        bus: Bus
        if self.server is None:
            bus = MemoryBus(self.broker)
        else:
            bus = await open_bus(self.server.url, ack_wait_s=1.0, fetch_batch=16)
        self.opened.append(bus)
        return bus

    async def close_all(self) -> None:
        for bus in self.opened:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(bus.close(), 5)


@pytest.fixture(params=["memory", "nats"])
def bus_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fixture]:
    if request.param == "memory":
        yield Fixture("memory", None)
        return
    with nats_server(tmp_path) as server:
        yield Fixture("nats", server)


@contextlib.asynccontextmanager
async def session(fx: Fixture) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await fx.close_all()


def reading(device_id: int, n: int) -> ReadingsCommitted:
    return ReadingsCommitted(device_id=device_id, mn=f"MN{device_id:04d}", kind="rtd",
                             rows=[("a34002", "Rtd", 1_700_000_000_000 + n * 1000, float(n), "N")])


class Collector:
    """Events as a listener got them; wait for a count."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.deliveries: list[Delivery] = []
        self._changed = asyncio.Event()

    def live(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def durable(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        self.live(delivery.event)

    async def until(self, count: int) -> None:
        async def wait() -> None:
            while len(self.events) < count:
                self._changed.clear()
                await self._changed.wait()
        try:
            await asyncio.wait_for(wait(), WAIT_S)
        except TimeoutError:
            raise AssertionError(f"got {len(self.events)} events, waited for {count}") from None

    async def nothing_more(self, count: int, within: float = 0.5) -> None:
        """Nothing beyond ``count`` comes within ``within`` (the bus's own fetch period is shorter)."""
        await asyncio.sleep(within)
        assert len(self.events) == count, self.events[count:]


def test_a_live_listener_gets_what_is_published_after_it_and_nothing_before(bus_fixture: Fixture) -> None:
    async def run() -> None:
        async with session(bus_fixture):
            bus = await bus_fixture.connect()
            await bus.publish(RegistryChanged(version=1))  # before the listener: not its business
            got = Collector()
            await bus.subscribe(["registry", "readings.*"], got.live)
            other = await bus_fixture.connect()  # another process publishes
            await other.publish(RegistryChanged(version=2))
            await other.publish(reading(7, 1))
            await got.until(2)
            assert sorted(map(type, got.events), key=str) == sorted([RegistryChanged, ReadingsCommitted], key=str)
            assert RegistryChanged(version=2) in got.events and reading(7, 1) in got.events
            await got.nothing_more(2)

    asyncio.run(run())


def test_a_durable_consumer_resumes_after_its_process_closes_and_reopens(bus_fixture: Fixture) -> None:
    async def run() -> None:
        async with session(bus_fixture):
            first = Collector()
            worker = await bus_fixture.connect()
            await worker.consume("loader", ["registry"], first.durable)
            publisher = await bus_fixture.connect()
            for v in range(1, 6):
                await publisher.publish(RegistryChanged(version=v))
            await first.until(5)
            await worker.close()  # the consumer's process stops
            for v in range(6, 9):  # meanwhile the others go on
                await publisher.publish(RegistryChanged(version=v))
            again = Collector()
            restarted = await bus_fixture.connect()
            await restarted.consume("loader", ["registry"], again.durable)
            await again.until(3)
            assert [e.version for e in again.events if isinstance(e, RegistryChanged)] == [6, 7, 8]
            await again.nothing_more(3)

    asyncio.run(run())


def test_the_same_event_published_twice_is_delivered_once(bus_fixture: Fixture) -> None:
    async def run() -> None:
        async with session(bus_fixture):
            bus = await bus_fixture.connect()
            live, durable = Collector(), Collector()
            await bus.subscribe(["readings.>"], live.live)
            await bus.consume("once", ["readings.>"], durable.durable)
            event = reading(3, 1)
            await bus.publish(event)
            other = await bus_fixture.connect()  # the same fact from another process, and a retry
            await other.publish(reading(3, 1))
            await other.publish(event)
            await bus.publish(reading(3, 2))  # a different fact
            await live.until(2)
            await durable.until(2)
            assert live.events == [reading(3, 1), reading(3, 2)]
            assert durable.events == [reading(3, 1), reading(3, 2)]
            await durable.nothing_more(2)
            await live.nothing_more(2, within=0)

    asyncio.run(run())


def test_two_workers_of_one_group_share_the_events_and_together_get_each_once(bus_fixture: Fixture) -> None:
    async def run() -> None:
        async with session(bus_fixture):
            workers = [Collector(), Collector()]

            def slow(c: Collector) -> Callable[[Delivery], Awaitable[None]]:
                async def handle(d: Delivery) -> None:
                    await c.durable(d)
                    await asyncio.sleep(0.002)  # work takes time, so the other worker is asked too
                return handle

            for c in workers:
                bus = await bus_fixture.connect()
                await bus.consume("rules", ["readings.*"], slow(c))
            publisher = await bus_fixture.connect()
            sent = [reading(d, n) for n in range(25) for d in range(8)]
            for event in sent:
                await publisher.publish(event)
            both = Collector()
            async def total() -> None:
                while sum(len(c.events) for c in workers) < len(sent):
                    await asyncio.sleep(0.02)
            await asyncio.wait_for(total(), WAIT_S)
            await asyncio.sleep(0.3)
            got = workers[0].events + workers[1].events
            assert sorted(e.id for e in got) == sorted(e.id for e in sent)  # each once, none lost
            assert all(len(c.events) > 0 for c in workers), [len(c.events) for c in workers]
            del both

    asyncio.run(run())


def test_a_worker_gets_only_the_readings_of_its_partitions(bus_fixture: Fixture) -> None:
    async def run() -> None:
        async with session(bus_fixture):
            bus = await bus_fixture.connect()
            assert bus.partitions == 16
            mine = Collector()
            await bus.consume("part", readings_subjects(bus.partitions, {3, 5}), mine.durable)
            publisher = await bus_fixture.connect()
            for device in range(40):
                await publisher.publish(reading(device, 1))
            wanted = [d for d in range(40) if d % 16 in (3, 5)]
            await mine.until(len(wanted))
            assert sorted(e.device_id for e in mine.events if isinstance(e, ReadingsCommitted)) == wanted
            assert {d.subject for d in mine.deliveries} == {"readings.3", "readings.5"}
            await mine.nothing_more(len(wanted))

    asyncio.run(run())


def test_an_event_whose_handler_fails_is_delivered_again(bus_fixture: Fixture) -> None:
    async def run() -> None:
        async with session(bus_fixture):
            bus = await bus_fixture.connect()
            got = Collector()
            failures = []

            async def flaky(d: Delivery) -> None:
                if d.attempt == 1:
                    failures.append(d.seq)
                    raise RuntimeError("the database is away")
                await got.durable(d)

            await bus.consume("flaky", ["registry"], flaky)
            await bus.publish(RegistryChanged(version=42))
            await got.until(1)
            assert got.events == [RegistryChanged(version=42)]
            assert got.deliveries[0].attempt == 2 and failures == [got.deliveries[0].seq]

    asyncio.run(run())


def test_an_event_a_worker_took_but_never_acknowledged_goes_to_another(bus_fixture: Fixture) -> None:
    async def run() -> None:
        async with session(bus_fixture):
            stuck = asyncio.Event()

            async def hangs(d: Delivery) -> None:
                stuck.set()
                await asyncio.Event().wait()  # the worker dies inside its handler

            dying = await bus_fixture.connect()
            await dying.consume("alarms", ["registry"], hangs)
            publisher = await bus_fixture.connect()
            await publisher.publish(RegistryChanged(version=9))
            await asyncio.wait_for(stuck.wait(), WAIT_S)
            await dying.close()
            survivor = Collector()
            other = await bus_fixture.connect()
            await other.consume("alarms", ["registry"], survivor.durable)
            await survivor.until(1)  # NATS: after ack_wait (1 s here); in process: at once
            assert survivor.events == [RegistryChanged(version=9)]

    asyncio.run(run())


def test_idempotent_consumer_turns_redeliveries_into_one_effect(bus_fixture: Fixture) -> None:
    async def run() -> None:
        async with session(bus_fixture):
            effects: list[str] = []

            async def effect(event: Event) -> None:
                effects.append(event.id)

            once = Idempotent(effect)
            bus = await bus_fixture.connect()
            calls = 0

            async def acks_lost(d: Delivery) -> None:  # as if every first ack were lost with the link
                nonlocal calls
                calls += 1
                await once(d)
                if d.attempt == 1:
                    raise ConnectionError("ack lost")

            await bus.consume("effects", ["registry"], acks_lost)
            for v in (1, 2, 3):
                await bus.publish(RegistryChanged(version=v))

            async def settled() -> None:
                while calls < 6:
                    await asyncio.sleep(0.02)
            await asyncio.wait_for(settled(), WAIT_S)
            assert effects == ["g.1", "g.2", "g.3"] or sorted(effects) == ["g.1", "g.2", "g.3"]
            assert once.duplicates == 3

    asyncio.run(run())


def test_nothing_is_lost_or_doubled_when_nats_is_killed_and_restarted_mid_stream(tmp_path: Path) -> None:
    """kill -9 of NATS while a publisher keeps publishing and a durable consumer consumes."""

    async def run(server: NatsServer) -> None:
        publisher = await open_bus(server.url, ack_wait_s=1.0)
        consumer = await open_bus(server.url, ack_wait_s=1.0)
        handled: list[str] = []
        seen_raw = 0

        async def effect(event: Event) -> None:
            handled.append(event.id)

        once = Idempotent(effect)

        async def count(d: Delivery) -> None:
            nonlocal seen_raw
            seen_raw += 1
            await once(d)

        await consumer.consume("rules", ["readings.*"], count)
        sent: list[str] = []
        restarted = asyncio.Event()

        async def publish() -> None:
            for n in range(600):
                event = reading(n % 32, n)
                await publisher.publish(event)  # returns only once NATS holds it
                sent.append(event.id)
                if n == 200:
                    server.kill()
                    server.start()  # same port, same store directory
                    restarted.set()

        try:
            await asyncio.wait_for(publish(), 60)
            assert restarted.is_set()

            async def all_handled() -> None:
                while len(set(handled)) < len(sent):
                    await asyncio.sleep(0.05)
            await asyncio.wait_for(all_handled(), 30)
            await asyncio.sleep(1.5)  # past ack_wait: any redelivery would have come by now
            assert sorted(handled) == sorted(sent)  # every event, each effect once
            assert len(sent) == 600
            assert seen_raw >= len(sent)
            assert getattr(publisher, "publish_retries", 0) > 0  # the restart really came mid-stream
        finally:
            await publisher.close()
            await consumer.close()

    with nats_server(tmp_path) as server:
        asyncio.run(run(server))


def test_a_nats_that_does_not_answer_is_one_clear_error() -> None:
    port = free_port()
    with pytest.raises(BusUnavailable) as caught:
        asyncio.run(open_bus(f"nats://127.0.0.1:{port}", connect_timeout_s=0.5))
    message = str(caught.value)
    assert f"NATS at nats://127.0.0.1:{port} does not answer" in message and "\n" not in message
