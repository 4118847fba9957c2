"""The channels: how one notice reaches one receiver, by webhook, e-mail or an SMS gateway.

Each channel does one attempt and either returns (the receiver took it) or raises
:class:`DeliveryError` with a message fit for the log; retrying, backoff and bookkeeping are the
dispatcher's. Messages never carry secrets: gateway URLs lose their query string (API keys live
there) and phone numbers are masked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import ssl
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Protocol
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape as xml_escape

import httpx

from forewarn.alarms.notice import AlarmNotice
from forewarn.alarms.notify.channel_config import ChannelConfig, EmailConfig, SmsConfig, WebhookConfig
from forewarn.alarms.notify.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, sign

__all__ = [
    "Channel",
    "DeliveryError",
    "EmailChannel",
    "SmsChannel",
    "WebhookChannel",
    "email_message",
    "open_channel",
]

log = logging.getLogger(__name__)
_USER_AGENT = "forewarn-notify/1"
#: Added to what an attempt may take by its timeouts, before the dispatcher abandons it: the HTTP
#: client's timeout applies per network operation, so a receiver trickling bytes could go on.
_DEADLINE_MARGIN_S = 5.0
#: SMTP round trips in one send (connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, QUIT), each
#: bounded by the timeout; a send abandoned while its thread goes on may arrive and be sent again.
_SMTP_STEPS = 8


class DeliveryError(Exception):
    """One attempt failed: the receiver refused, could not be reached, or did not answer in time."""


class Channel(Protocol):
    """Where notices go; one instance per configured channel, living as long as the dispatcher."""

    name: str
    timeout_s: float  # each network operation
    deadline_s: float  # the whole attempt: the dispatcher abandons it after this long

    async def send(self, notice: AlarmNotice, event_id: int) -> None:
        """Deliver once; raise DeliveryError when the receiver did not take it."""
        ...

    def close(self) -> None: ...


def _site(url: str) -> str:
    """``url`` without credentials, query or fragment, for log lines."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def _mask(phone: str) -> str:
    return phone[:3] + "*" * max(len(phone) - 7, 0) + phone[-4:] if len(phone) > 7 else phone


async def _request(
    client: httpx.AsyncClient, method: str, url: str, timeout_s: float, *,
    content: bytes | None = None, headers: dict[str, str],
) -> None:
    """One HTTP request; anything but a 2xx answer in time is a DeliveryError."""
    try:
        response = await client.request(method, url, content=content, headers=headers, timeout=timeout_s)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"no answer from {_site(url)} within {timeout_s:g} s") from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"cannot reach {_site(url)}: {exc or type(exc).__name__}") from exc
    if not 200 <= response.status_code < 300:
        snippet = " ".join(response.text[:200].split())
        raise DeliveryError(f"{_site(url)} answered HTTP {response.status_code} {snippet}".rstrip())


class WebhookChannel:
    """POSTs the notice as JSON, signed with HMAC-SHA256, with the outbox id as the event id.

    The event id is the same on every retry of one outbox row, so a receiver that got a
    delivery whose answer was lost can recognise the retry and ignore it.
    """

    def __init__(self, config: WebhookConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.name = config.name
        self.timeout_s = config.timeout_s
        self.deadline_s = config.timeout_s + _DEADLINE_MARGIN_S
        self._client = client

    def body(self, notice: AlarmNotice, event_id: int) -> bytes:
        document = {**notice.to_json(), "event_id": event_id}
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    async def send(self, notice: AlarmNotice, event_id: int) -> None:
        body = self.body(notice, event_id)
        headers = {
            **self.config.headers,
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": _USER_AGENT,
            SIGNATURE_HEADER: sign(body, self.config.secret),
            EVENT_ID_HEADER: str(event_id),
        }
        await _request(self._client, "POST", self.config.url, self.timeout_s, content=body, headers=headers)

    def close(self) -> None:
        pass


def _encode_for(content_type: str, value: str) -> str:
    """``value`` escaped for the body it is put into: JSON string, XML text, or URL-encoded."""
    kind = content_type.lower()
    if "json" in kind:
        return json.dumps(value, ensure_ascii=False)[1:-1]
    if "xml" in kind:
        return xml_escape(value, {'"': "&quot;", "'": "&apos;"})
    return quote(value, safe="")


class SmsChannel:
    """Calls an SMS gateway's HTTP API from a template, one request per phone number.

    Gateways differ in everything but this: an address with the number and the text in it (or
    in a POST body). ``{to}`` and ``{text}`` are replaced URL-encoded in the address and
    encoded for the content type in the body. A failure stops at the first number refused; the
    retry sends to every number again (a number may get the message twice, never zero times).
    """

    def __init__(self, config: SmsConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.name = config.name
        self.timeout_s = config.timeout_s
        self.deadline_s = config.timeout_s * len(config.to) + _DEADLINE_MARGIN_S
        self._client = client

    def request_for(self, phone: str, text: str) -> tuple[str, bytes | None]:
        """The address and body for one number."""
        cfg = self.config
        url = cfg.url.replace("{to}", quote(phone, safe="")).replace("{text}", quote(text, safe=""))
        if cfg.method != "POST" or not cfg.body:
            return url, None
        body = cfg.body.replace("{to}", _encode_for(cfg.content_type, phone))
        body = body.replace("{text}", _encode_for(cfg.content_type, text))
        return url, body.encode("utf-8")

    async def send(self, notice: AlarmNotice, event_id: int) -> None:
        text = notice.text_zh()
        headers = {**self.config.headers, "User-Agent": _USER_AGENT}
        if self.config.method == "POST" and self.config.body:
            headers["Content-Type"] = self.config.content_type
        for phone in self.config.to:
            url, body = self.request_for(phone, text)
            try:
                await _request(self._client, self.config.method, url, self.timeout_s, content=body,
                               headers=headers)
            except DeliveryError as exc:
                raise DeliveryError(f"SMS to {_mask(phone)}: {exc}") from exc

    def close(self) -> None:
        pass


def _one_line(text: str) -> str:
    """Header values may not hold line breaks (they would start new headers)."""
    return " ".join(text.split())


def email_message(config: EmailConfig, notice: AlarmNotice, event_id: int) -> EmailMessage:
    """The message: the Chinese one-liner as subject, both explanations and the facts in the body."""
    msg = EmailMessage()
    msg["Subject"] = _one_line(notice.text_zh())
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.to)
    msg["Date"] = formatdate(localtime=True)
    domain = parseaddr(config.sender)[1].rpartition("@")[2] or "forewarn"
    msg["Message-ID"] = f"<forewarn-{event_id}@{domain}>"
    facts = [
        ("告警 Alarm", f"{notice.alarm_id} ({notice.event})"),
        ("级别 Level", f"{notice.level} ({notice.colour})"),
        ("状态 State", notice.state),
        ("地区 Region", f"{notice.region_name} ({notice.region_code})"),
        ("企业 Enterprise", notice.enterprise),
        ("站点 Site", notice.site),
        ("设备 Device", notice.mn),
        ("规则 Rule", f"{notice.rule_id} v{notice.rule_version}"),
        ("时间 Time", notice.at),
    ]
    if notice.url:
        facts.append(("链接 Link", notice.url))
    lines = [notice.explanation_zh, "", notice.explanation_en, ""]
    lines += [f"{label}: {value}" for label, value in facts]
    msg.set_content("\n".join(lines) + "\n", charset="utf-8")
    return msg


class EmailChannel:
    """Sends through SMTP with the standard library, on threads of its own.

    smtplib blocks, so each send runs on this channel's small thread pool; a pool of its own
    means a hung mail server ties up only these threads, never the event loop nor the
    threads other parts of the platform share.
    """

    def __init__(self, config: EmailConfig, workers: int) -> None:
        self.config = config
        self.name = config.name
        self.timeout_s = config.timeout_s
        self.deadline_s = config.timeout_s * _SMTP_STEPS + _DEADLINE_MARGIN_S
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=f"forewarn-smtp-{config.name}")

    async def send(self, notice: AlarmNotice, event_id: int) -> None:
        msg = email_message(self.config, notice, event_id)
        await asyncio.get_running_loop().run_in_executor(self._pool, self._send_blocking, msg)

    def _send_blocking(self, msg: EmailMessage) -> None:
        cfg = self.config
        where = f"{cfg.smtp_host}:{cfg.smtp_port}"
        context = ssl.create_default_context()
        try:
            smtp = (
                smtplib.SMTP_SSL(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_s, context=context)
                if cfg.ssl
                else smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_s)
            )
            with smtp:
                if cfg.starttls:
                    smtp.starttls(context=context)
                if cfg.username:
                    smtp.login(cfg.username, cfg.password)
                refused = smtp.send_message(msg, to_addrs=[parseaddr(a)[1] for a in cfg.to])
        except TimeoutError as exc:
            raise DeliveryError(f"mail server {where} did not answer within {cfg.timeout_s:g} s") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"mail server {where}: {exc}") from exc
        if refused:
            log.warning("mail server %s refused %s for channel %s (the others got it)",
                        where, ", ".join(sorted(refused)), cfg.name)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def open_channel(config: ChannelConfig, client: httpx.AsyncClient, workers: int) -> Channel:
    """The channel for one ``[[channel]]`` table; HTTP channels share ``client``."""
    if isinstance(config, WebhookConfig):
        return WebhookChannel(config, client)
    if isinstance(config, SmsConfig):
        return SmsChannel(config, client)
    return EmailChannel(config, workers)
