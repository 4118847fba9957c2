"""Grabbing one JPEG from a camera, asynchronously and within a time limit.

Two ways in, as IP cameras offer them: an HTTP(S) snapshot address answered with a JPEG
(credentials in the address are sent as Basic, or as Digest when the camera asks for it), or
an RTSP stream, of which ``ffmpeg`` (Debian's package) reads one frame in a subprocess. Both
run on the event loop without blocking it (httpx's async client; an asyncio subprocess), each
bounded by the timeout, after which the grab is abandoned (the subprocess killed) and the
camera's silence is the result: a camera never holds anything up for longer than that.

A failure is a result, worded for whoever reads the alarm ("did not answer in 5 s"), never an
exception; its words hold the camera's address only masked.
"""

from __future__ import annotations

import asyncio
import importlib
import shutil
import ssl
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from forewarn.cameras.urls import mask

__all__ = ["MAX_JPEG_BYTES", "Grab", "Grabber"]

#: a larger answer is no camera's snapshot (a 4K JPEG is a few MB)
MAX_JPEG_BYTES = 16 * 1024 * 1024
_SOI = b"\xff\xd8"


@dataclass(frozen=True, slots=True)
class Grab:
    """What one grab gave: the JPEG, or why there is none; and how long it took."""

    jpeg: bytes
    error: str
    took_ms: int

    @property
    def ok(self) -> bool:
        return not self.error


class Grabber:
    """Grabs snapshots with one HTTP client and a bound on grabs at once (ffmpeg costs a core)."""

    def __init__(self, timeout_s: float, *, http_parallel: int = 16, rtsp_parallel: int = 2,
                 ffmpeg: str | None = None) -> None:
        self.timeout_s = timeout_s
        self._http = asyncio.Semaphore(http_parallel)
        self._rtsp = asyncio.Semaphore(rtsp_parallel)
        self._ffmpeg = ffmpeg or shutil.which("ffmpeg")
        self._client: httpx.AsyncClient | None = None
        self._making = asyncio.Lock()

    async def _http_client(self) -> httpx.AsyncClient:
        """The one HTTP client, made at the first grab (not at every platform's start: most have no
        camera), once: grabs that start together wait for the same one."""
        async with self._making:
            if self._client is None:
                # the CA bundle and httpx's async backend (imported at first use) take ~100 ms each:
                # on a thread, not on the loop that answers devices
                ssl_context = await asyncio.to_thread(_prepare_http)
                self._client = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=True, verify=ssl_context,
                                                 headers={"User-Agent": "forewarn-snapshot"})
        return self._client

    async def prepare(self) -> None:
        """Make the HTTP client before the first alarm needs it: loading the CA bundle holds the GIL
        for ~65 ms even on a thread, which is better spent at start than while an alarm fires."""
        await self._http_client()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def grab(self, url: str) -> Grab:
        """One JPEG from ``url`` (http, https, rtsp, rtsps), or the reason there is none."""
        scheme = urlsplit(url).scheme
        rtsp = scheme in ("rtsp", "rtsps")
        async with self._rtsp if rtsp else self._http:
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.timeout_s):
                    jpeg, error = await (self._by_ffmpeg(url) if rtsp else self._by_http(url))
            except TimeoutError:
                jpeg, error = b"", f"did not answer in {self.timeout_s:g} s"
            except httpx.ConnectError as exc:
                jpeg, error = b"", f"could not be reached ({_reason(exc)})"
            except httpx.HTTPError as exc:
                jpeg, error = b"", f"failed: {_reason(exc)}"
            except OSError as exc:
                jpeg, error = b"", f"failed: {exc.strerror or exc}"
            took = int((time.monotonic() - started) * 1000)
        if not error and not jpeg.startswith(_SOI):
            error = f"answered {len(jpeg)} bytes that are not a JPEG"
        return Grab(b"" if error else jpeg, mask_in(error, url), took)

    async def _by_http(self, url: str) -> tuple[bytes, str]:
        parts = urlsplit(url)
        clean = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, ""))
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        client = await self._http_client()
        auth: httpx.Auth | None = httpx.BasicAuth(user, password) if user else None
        body, status, challenge, kind = await self._fetch(client, clean, auth)
        if status == 401 and user and "digest" in challenge.lower():
            body, status, challenge, kind = await self._fetch(client, clean, httpx.DigestAuth(user, password))
        if status == 413:
            return b"", f"answered more than {MAX_JPEG_BYTES // 1024 // 1024} MB"
        if status != 200:
            hint = " (check the user and password in its address)" if status in (401, 403) else ""
            return b"", f"answered HTTP {status}{hint}"
        if not body.startswith(_SOI):
            return b"", f"answered {kind or 'something'} ({len(body)} bytes), not a JPEG"
        return body, ""

    @staticmethod
    async def _fetch(client: httpx.AsyncClient, url: str, auth: httpx.Auth | None) -> tuple[bytes, int, str, str]:
        """(body, status, the WWW-Authenticate challenge, content type); status 413 when too large."""
        async with client.stream("GET", url, auth=auth) as response:
            body = bytearray()
            if response.status_code == 200:
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_JPEG_BYTES:
                        return b"", 413, "", ""
            return (bytes(body), response.status_code, response.headers.get("www-authenticate", ""),
                    response.headers.get("content-type", ""))

    async def _by_ffmpeg(self, url: str) -> tuple[bytes, str]:
        if self._ffmpeg is None:
            return b"", "cannot be read: RTSP snapshots need ffmpeg (apt-get install ffmpeg)"
        proc = await asyncio.create_subprocess_exec(
            self._ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
            "-rtsp_transport", "tcp", "-timeout", str(int(self.timeout_s * 1_000_000)),
            # a picture, not a stream's statistics: ffmpeg's default 5 s of probing would use the whole timeout
            "-analyzeduration", "500000", "-probesize", "500000",
            "-i", url, "-frames:v", "1", "-f", "image2", "-c:v", "mjpeg", "-q:v", "3", "pipe:1",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await proc.communicate()
        except BaseException:  # the timeout (or a stop): the process goes with the grab
            if proc.returncode is None:
                proc.kill()
                await asyncio.shield(proc.wait())
            raise
        if proc.returncode != 0 or not out:
            lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
            last = lines[-1].strip()[:300] if lines else f"ffmpeg exited with {proc.returncode}"
            return b"", f"gave no picture ({last})"
        return out, ""


def _prepare_http() -> ssl.SSLContext:
    importlib.import_module("anyio._backends._asyncio")
    return httpx.create_ssl_context()


def mask_in(text: str, url: str) -> str:
    """``text`` with ``url`` (and its password) masked wherever it appears."""
    if not text:
        return text
    masked = text.replace(url, mask(url))
    password = urlsplit(url).password
    if password:
        masked = masked.replace(password, "***")
    return masked


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused: is the camera on, and is its address right?"
    return text[:300]
