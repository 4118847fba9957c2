"""SMS through an HTTP gateway template, to a real gateway stand-in on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.test_notify_support import Receiver, config_file, dispatching, until
from tests.unit.test_notify_outbox import notice

pytestmark = pytest.mark.integration

TRICKY = notice(explanation_zh='可燃气体 45.2 %LEL & "泄漏" 超限 #1 +/?=')


def sms(url: str, extra: str = "") -> str:
    return (f'[[channel]]\nname = "duty"\nkind = "sms"\nurl = "{url}"\n'
            f'to = ["13800138000", "+8613900139000"]\n{extra}\n[[route]]\nchannels = ["duty"]\n')


def test_the_gateway_gets_each_number_and_the_text_url_encoded(tmp_path: Path) -> None:
    async def main() -> None:
        with Receiver().serving() as gw:
            config = config_file(tmp_path, sms(f"{gw.url}/sms/send?apikey=K1&mobile={{to}}&content={{text}}"))
            async with dispatching(tmp_path, config) as bench:
                bench.enqueue(TRICKY)
                await until(lambda: bench.rows()[0]["delivered_ms"] is not None, what="delivered")
        assert [r.method for r in gw.requests] == ["GET", "GET"]
        raw_path = gw.requests[1].path
        assert "%2B8613900139000" in raw_path and "%E5%8F%AF" in raw_path  # '+' and Chinese encoded
        queries = [parse_qs(urlsplit(r.path).query, keep_blank_values=True) for r in gw.requests]
        assert [q["mobile"] for q in queries] == [["13800138000"], ["+8613900139000"]]
        assert all(q["content"] == [TRICKY.text_zh()] and q["apikey"] == ["K1"] for q in queries)

    asyncio.run(main())


def test_a_post_body_template_is_filled_escaped_for_its_content_type(tmp_path: Path) -> None:
    async def main() -> None:
        extra = ('method = "POST"\ncontent_type = "application/json"\n'
                 "body = '{\"phone\": \"{to}\", \"msg\": \"{text}\", \"sign\": \"预警\"}'\n"
                 'headers = { Authorization = "Bearer T" }\n')
        with Receiver().serving() as gw:
            config = config_file(tmp_path, sms(f"{gw.url}/api/sms?to={{to}}", extra))
            async with dispatching(tmp_path, config) as bench:
                bench.enqueue(TRICKY)
                await until(lambda: bench.rows()[0]["delivered_ms"] is not None, what="delivered")
        first = gw.requests[0]
        assert first.method == "POST" and first.headers["Content-Type"] == "application/json"
        assert first.headers["Authorization"] == "Bearer T"
        assert json.loads(first.body) == {"phone": "13800138000", "msg": TRICKY.text_zh(), "sign": "预警"}

    asyncio.run(main())


def test_a_gateway_refusal_is_retried_without_leaking_the_api_key(tmp_path: Path) -> None:
    async def main() -> None:
        with Receiver(script=[200, 500]).serving() as gw:  # the second number is refused once
            config = config_file(tmp_path, sms(f"{gw.url}/send?key=SECRETKEY&m={{to}}&t={{text}}"))
            async with dispatching(tmp_path, config) as bench:
                bench.enqueue(notice())
                await until(lambda: bench.rows()[0]["attempts"] == 1, what="failure recorded")
                error = bench.rows()[0]["last_error"]
                assert "HTTP 500" in error and "+86*******9000" in error and "SECRETKEY" not in error
                bench.advance(5)
                await until(lambda: bench.rows()[0]["delivered_ms"] is not None, what="delivered")
        assert len(gw.requests) == 4  # retries send to every number again: at least once each

    asyncio.run(main())
