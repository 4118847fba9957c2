"""E-mail through a real SMTP server (aiosmtpd) on 127.0.0.1: Chinese subject intact, login, refusal."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.integration.test_notify_support import config_file, dispatching, free_port, until
from tests.unit.test_notify_outbox import notice

pytestmark = pytest.mark.integration


class Mailbox:
    """An aiosmtpd handler keeping every message; refuses recipients listed in ``refuse``."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.refuse = refuse
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"forewarn", b"p@ss")
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself


@contextlib.contextmanager
def smtp_server(mailbox: Mailbox, **kw: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **kw)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def mail(port: int, extra: str = "", to: str = '"duty@example.gov.cn", "chief@example.gov.cn"') -> str:
    return (f'[[channel]]\nname = "duty"\nkind = "email"\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\n'
            f'from = "预警平台 <forewarn@example.gov.cn>"\nto = [{to}]\ntimeout_s = 3\n{extra}\n'
            '[[route]]\nchannels = ["duty"]\n')


def test_the_mail_arrives_with_the_chinese_subject_and_both_explanations(tmp_path: Path) -> None:
    async def main() -> None:
        box = Mailbox()
        with smtp_server(box) as port:
            async with dispatching(tmp_path, config_file(tmp_path, mail(port))) as bench:
                bench.enqueue(notice(url="http://forewarn.local/alarms/7"))
                await until(lambda: bench.rows()[0]["delivered_ms"] is not None, what="delivered")
                event_id = bench.rows()[0]["id"]
        (sender, recipients, message), = box.messages
        assert sender == "forewarn@example.gov.cn"
        assert recipients == ["duty@example.gov.cn", "chief@example.gov.cn"]
        assert message["Subject"] == notice().text_zh()
        assert "预警平台" in message["From"] and message["Message-ID"] == f"<forewarn-{event_id}@example.gov.cn>"
        body = message.get_content()
        assert notice().explanation_zh in body and notice().explanation_en in body
        assert "金城江区 (451202)" in body and "http://forewarn.local/alarms/7" in body

    asyncio.run(main())


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_channel_logs_in_with_its_username_and_password(tmp_path: Path) -> None:
    async def main() -> None:
        box = Mailbox()
        with smtp_server(box, authenticator=check_login, auth_require_tls=False, auth_required=True) as port:
            good = mail(port, 'username = "forewarn"\npassword = "p@ss"\n')
            async with dispatching(tmp_path / "good", config_file(tmp_path, good)) as bench:
                bench.enqueue(notice())
                await until(lambda: bench.rows()[0]["delivered_ms"] is not None, what="delivered")
            bad = mail(port, 'username = "forewarn"\npassword = "wrong"\n')
            async with dispatching(tmp_path / "bad", config_file(tmp_path, bad)) as bench:
                bench.enqueue(notice())
                await until(lambda: bench.rows()[0]["attempts"] == 1, what="refused login recorded")
                assert "mail server 127.0.0.1" in bench.rows()[0]["last_error"]
                assert "535" in bench.rows()[0]["last_error"]
        assert len(box.messages) == 1

    asyncio.run(main())


def test_a_refused_recipient_or_a_dead_server_is_a_failure_retried_later(tmp_path: Path) -> None:
    async def main() -> None:
        box = Mailbox(refuse=("duty@example.gov.cn",))
        with smtp_server(box) as port:
            text = mail(port, to='"duty@example.gov.cn"')
            async with dispatching(tmp_path / "refused", config_file(tmp_path, text)) as bench:
                bench.enqueue(notice())
                await until(lambda: bench.rows()[0]["attempts"] == 1, what="refusal recorded")
                assert "no such mailbox" in bench.rows()[0]["last_error"]
                assert bench.rows()[0]["next_attempt_ms"] == bench.clock.ms() + 5000
        dead = mail(free_port())
        async with dispatching(tmp_path / "dead", config_file(tmp_path, dead)) as bench:
            bench.enqueue(notice())
            await until(lambda: bench.rows()[0]["attempts"] == 1, what="dead server recorded")
            assert "Connection refused" in bench.rows()[0]["last_error"]

    asyncio.run(main())
