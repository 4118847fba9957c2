"""Webhooks delivered over real sockets to a real HTTP server on 127.0.0.1: signed, retried, isolated."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from forewarn.alarms.notify import EVENT_ID_HEADER, SIGNATURE_HEADER, verify
from tests.integration.test_notify_support import HANG, Receiver, config_file, dispatching, free_port, until
from tests.unit.test_notify_outbox import notice

pytestmark = pytest.mark.integration


def hook(name: str, url: str, timeout_s: float = 5, secret: str = "top-secret") -> str:
    return f'[[channel]]\nname = "{name}"\nkind = "webhook"\nurl = "{url}/hook"\nsecret = "{secret}"\ntimeout_s = {timeout_s}\n\n'


def route(*names: str) -> str:
    return "[[route]]\nchannels = [" + ", ".join(f'"{n}"' for n in names) + "]\n\n"


def test_a_webhook_is_signed_over_the_exact_body_and_carries_the_event_id(tmp_path: Path) -> None:
    async def main() -> None:
        with Receiver().serving() as rx:
            config = config_file(tmp_path, hook("city", rx.url) + route("city"))
            async with dispatching(tmp_path, config) as bench:
                bench.enqueue(notice())
                await until(lambda: bench.rows()[0]["delivered_ms"] is not None, what="delivered")
                row = bench.rows()[0]
        (request,) = rx.requests
        assert request.method == "POST" and request.path == "/hook"
        assert verify(request.body, "top-secret", request.headers[SIGNATURE_HEADER])
        assert not verify(request.body, "another-secret", request.headers[SIGNATURE_HEADER])
        body = json.loads(request.body)
        assert body["event_id"] == row["id"] and request.headers[EVENT_ID_HEADER] == str(row["id"])
        assert body["site"] == "储配站" and body["explanation_en"] == notice().explanation_en
        assert request.headers["Content-Type"].startswith("application/json")
        assert row["attempts"] == 1 and row["delivered_ms"] == bench.clock.ms()

    asyncio.run(main())


def test_wake_from_another_thread_starts_delivery_without_waiting_for_the_poll(tmp_path: Path) -> None:
    async def main() -> None:
        with Receiver().serving() as rx:
            config = config_file(tmp_path, hook("city", rx.url) + route("city"))
            async with dispatching(tmp_path, config, poll_s=60) as bench:
                await asyncio.sleep(0.1)  # the dispatcher has looked once and now sleeps for a minute
                await asyncio.to_thread(bench.enqueue, notice())  # enqueue and wake() on another thread
                await until(lambda: len(rx.requests) == 1, timeout_s=2, what="delivered after wake()")

    asyncio.run(main())


def test_a_refusing_receiver_is_tried_again_after_the_backoff_with_the_same_event(tmp_path: Path) -> None:
    async def main() -> None:
        with Receiver(script=[503, 500]).serving() as rx:
            config = config_file(tmp_path, hook("city", rx.url) + route("city"))
            async with dispatching(tmp_path, config) as bench:
                start = bench.clock.ms()
                bench.enqueue(notice())
                await until(lambda: bench.rows()[0]["attempts"] == 1, what="first failure recorded")
                row = bench.rows()[0]
                assert row["next_attempt_ms"] == start + 5000 and "HTTP 503" in row["last_error"]
                await asyncio.sleep(0.3)  # many polls, but the clock has not reached the retry
                assert len(rx.requests) == 1
                bench.advance(5)
                await until(lambda: bench.rows()[0]["attempts"] == 2, what="second failure recorded")
                assert bench.rows()[0]["next_attempt_ms"] == start + 5000 + 10000  # doubled
                bench.advance(9.9)
                await asyncio.sleep(0.2)
                assert len(rx.requests) == 2
                bench.advance(0.1)
                await until(lambda: bench.rows()[0]["delivered_ms"] is not None, what="delivered")
        assert len(rx.requests) == 3
        assert len({r.headers[EVENT_ID_HEADER] for r in rx.requests}) == 1
        assert len({r.body for r in rx.requests}) == 1

    asyncio.run(main())


def test_a_receiver_that_was_down_gets_the_notice_once_it_is_up(tmp_path: Path) -> None:
    async def main() -> None:
        port = free_port()
        config = config_file(tmp_path, hook("city", f"http://127.0.0.1:{port}") + route("city"))
        async with dispatching(tmp_path, config) as bench:
            bench.enqueue(notice())
            await until(lambda: bench.rows()[0]["attempts"] == 1, what="refused connection recorded")
            assert "cannot reach http://127.0.0.1" in bench.rows()[0]["last_error"]
            with Receiver(port=port).serving() as rx:
                bench.advance(5)
                await until(lambda: bench.rows()[0]["delivered_ms"] is not None, what="delivered")
            assert len(rx.requests) == 1

    asyncio.run(main())


def test_a_receiver_that_never_answers_does_not_delay_another_channel(tmp_path: Path) -> None:
    async def main() -> None:
        with Receiver(script=[HANG] * 10).serving() as stuck, Receiver().serving() as fine:
            text = hook("stuck", stuck.url, timeout_s=30) + hook("fine", fine.url) + route("stuck", "fine")
            async with dispatching(tmp_path, config_file(tmp_path, text)) as bench:
                for alarm in range(1, 6):
                    bench.enqueue(notice(alarm), ["stuck"])
                await until(lambda: len(stuck.requests) == 2, what="the stuck receiver holds its two slots")
                loop = asyncio.get_running_loop()
                began = loop.time()
                bench.enqueue(notice(99), ["fine"])
                await until(lambda: len(fine.requests) == 1, timeout_s=2, what="the other channel delivered")
                assert loop.time() - began < 1.0
                await asyncio.sleep(0.3)
                # each stuck row is being delivered once, and no more than the channel's share at a time
                assert len(stuck.requests) == 2
                assert len({r.headers[EVENT_ID_HEADER] for r in stuck.requests}) == 2

    asyncio.run(main())


def test_a_hanging_receiver_times_out_and_is_retried(tmp_path: Path) -> None:
    async def main() -> None:
        with Receiver(script=[HANG]).serving() as rx:
            config = config_file(tmp_path, hook("slow", rx.url, timeout_s=0.3) + route("slow"))
            async with dispatching(tmp_path, config) as bench:
                bench.enqueue(notice())
                await until(lambda: bench.rows()[0]["attempts"] == 1, what="timeout recorded")
                assert "no answer from" in bench.rows()[0]["last_error"]
                assert "within 0.3 s" in bench.rows()[0]["last_error"]
                bench.advance(5)
                await until(lambda: bench.rows()[0]["delivered_ms"] is not None, what="delivered")

    asyncio.run(main())


def test_a_row_is_not_sent_again_while_its_outcome_waits_for_the_writer(tmp_path: Path) -> None:
    async def main() -> None:
        with Receiver().serving() as rx:
            config = config_file(tmp_path, hook("city", rx.url) + route("city"))
            async with dispatching(tmp_path, config, write_delay_s=0.4) as bench:
                bench.enqueue(notice())
                await until(lambda: bench.rows()[0]["delivered_ms"] is not None, what="delivered")
                await asyncio.sleep(0.2)
        assert len(rx.requests) == 1

    asyncio.run(main())


def test_delivery_gives_up_after_the_configured_attempts(tmp_path: Path) -> None:
    async def main() -> None:
        with Receiver(script=[500, 500, 500]).serving() as rx:
            text = hook("city", rx.url) + route("city") + "[delivery]\nmax_attempts = 2\n"
            async with dispatching(tmp_path, config_file(tmp_path, text)) as bench:
                bench.enqueue(notice())
                await until(lambda: bench.rows()[0]["attempts"] == 1)
                bench.advance(5)
                await until(lambda: bench.rows()[0]["given_up_ms"] is not None, what="given up")
                bench.advance(3600)
                await asyncio.sleep(0.2)
                row = bench.rows()[0]
                assert row["attempts"] == 2 and row["delivered_ms"] is None and "HTTP 500" in row["last_error"]
                assert bench.dispatcher.given_up == 1
        assert len(rx.requests) == 2

    asyncio.run(main())


def test_rows_for_a_channel_removed_from_the_file_are_given_up_once_too_old_to_send(tmp_path: Path) -> None:
    async def main() -> None:
        with Receiver().serving() as rx:
            config = config_file(tmp_path, hook("city", rx.url) + route("city"))
            async with dispatching(tmp_path, config) as bench:
                bench.enqueue(notice(), ["city"])
                await until(lambda: bench.rows()[0]["delivered_ms"] is not None)
            bench.enqueue(notice(2), ["old-channel"])  # as if queued before the file changed
            async with dispatching(tmp_path, config) as bench:
                # another dispatcher's file may still name the channel: a young row stays pending
                await asyncio.sleep(0.2)
                assert bench.rows()[1]["given_up_ms"] is None
                bench.advance(86_400 + 60)  # older than the delivery policy's give_up_after_s
                await until(lambda: bench.rows()[1]["given_up_ms"] is not None, what="stranded row given up")
                assert "no longer configured" in bench.rows()[1]["last_error"]

    asyncio.run(main())
