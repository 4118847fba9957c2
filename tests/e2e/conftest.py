"""The dashboard in a real browser: a real forewarn (HTTP + HJ 212 on loopback, a fresh SQLite
file, the demo fleet and accounts) fed by the simulator, and headless Chromium driven by
Playwright.

Playwright's own browser download does not work on these machines, so the tests drive
Debian's ``chromium`` package through ``executable_path`` (``make test`` installs it). Every
page a test opens is watched: a JavaScript error or a console error fails the test. Screenshots
go to ``tests/e2e/screenshots/`` (see :func:`shot`).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest

from forewarn.access.bootstrap import DEMO_PASSWORD, ensure_demo_accounts
from forewarn.access.users import issue_api_token
from forewarn.app import Platform
from forewarn.cli.common import open_store
from forewarn.cli.registry import import_files
from forewarn.config import Settings, load_settings
from forewarn.sim import fleet_files, fleet_regions_file, load_fleet, run_simulator
from tests.integration.harness import FakeDevice, data_packet

T = TypeVar("T")

SCREENSHOTS = Path(__file__).parent / "screenshots"
TZ = ZoneInfo("Asia/Shanghai")
#: the demo's administrator of the whole platform
CITY_USER = "city"
CITY_PASSWORD = DEMO_PASSWORD
#: a Hechi gas station's detector (金城江区, 拉友液化石油气储配站), the tests' own incidents go there
GAS_MN = "451202A1FE00000000000001"
GAS_PASSWORD = "123456"


def chromium_path() -> str:
    """Debian's chromium: FOREWARN_CHROMIUM, or the first found on PATH."""
    found = os.environ.get("FOREWARN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: run 'make test' (it installs Debian's chromium) or "
                    "'apt-get install chromium fonts-noto-cjk'")
    return found


@dataclass
class Server:
    """A running forewarn in a thread of its own (its own event loop), as a user's browser sees it."""

    settings: Settings
    loop: asyncio.AbstractEventLoop
    platform: Platform
    base_url: str
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        """Run a coroutine on the platform's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def send(self, mn: str, cp: str, *, password: str = GAS_PASSWORD) -> None:
        """Send one HJ 212 real-time packet as a device and wait for its 9014 (stored, alarms included)."""

        async def go() -> None:
            dev = await FakeDevice.connect(self.platform.hj212_port)
            try:
                await dev.send(data_packet(mn, cp, pw=password))
                answer = await dev.answer(timeout=10)
                assert answer.cn == "9014", answer
            finally:
                await dev.close()

        self.call(go())

    def gas_leak(self, value: float = 62.0, code: str = "GD1") -> int:
        """A combustible-gas reading over the second-stage limit (50 %LEL) now; its time (ms)."""
        now = datetime.now(TZ).replace(microsecond=0)
        # the fleet's detectors report their reading as the LEL sub-field (fleet_points.csv)
        self.send(GAS_MN, f"DataTime={now:%Y%m%d%H%M%S};{code}-LEL={value},{code}-Flag=N")
        return int(now.timestamp() * 1000)

    def api(self, user: str = CITY_USER) -> httpx.Client:
        """An HTTP client with an API token of ``user`` (httpx sends no Secure cookie over http)."""
        with open_store(self.settings) as store:
            token = issue_api_token(store.db, user, days=1, actor="e2e", origin="test").token
        return httpx.Client(base_url=self.base_url, timeout=10, headers={"Authorization": f"Bearer {token}"})


def _prepare(data_dir: Path) -> Settings:
    settings = load_settings(None, data_dir=data_dir, hj212_host="127.0.0.1", hj212_port=0,
                             http_host="127.0.0.1", http_port=0, registry_poll_s=0.2)
    import_files(settings, [fleet_regions_file(), *fleet_files()])
    with open_store(settings) as store:
        ensure_demo_accounts(store.db)
    return settings


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """forewarn with the demo fleet, fed by the simulator (no random incidents: the tests make
    their own), for every browser test. Package-scoped: it (and Playwright, whose sync API holds
    an event loop on the main thread) ends before the other suites' asyncio.run() tests."""
    settings = _prepare(tmp_path_factory.mktemp("e2e") / "data")
    ready: dict[str, Any] = {}
    started = threading.Event()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        platform = Platform(settings, http=True)
        await platform.start()
        srv = Server(settings, loop, platform, f"http://127.0.0.1:{platform.http_port}")
        sim = asyncio.create_task(run_simulator("127.0.0.1", platform.hj212_port, incident_rate=0.0, seed=7,
                                                devices=load_fleet(), log=lambda _line: None))
        ready["server"] = srv
        started.set()
        try:
            await srv.stop_event.wait()
        finally:
            sim.cancel()
            await asyncio.gather(sim, return_exceptions=True)
            await platform.stop()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            ready["error"] = exc
            started.set()

    thread = threading.Thread(target=run, name="forewarn-e2e", daemon=True)
    thread.start()
    if not started.wait(60) or "error" in ready:
        pytest.fail(f"forewarn did not start: {ready.get('error')!r}")
    srv: Server = ready["server"]
    _wait_for_data(srv)
    yield srv
    srv.loop.call_soon_threadsafe(srv.stop_event.set)
    thread.join(30)


def _wait_for_data(srv: Server, timeout: float = 30.0) -> None:
    """Until the simulator's first readings are stored (the pages then have live values)."""
    deadline = time.monotonic() + timeout
    client = srv.api()
    try:
        while time.monotonic() < deadline:
            items = client.get("/api/v1/devices", params={"limit": 1}).json().get("items") or [{}]
            if items[0].get("last_seen_ms"):
                return
            time.sleep(0.2)
    finally:
        client.close()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                               args=["--no-sandbox", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


_CLIENT_ERROR = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")


class ConsoleWatch:
    """The console errors and uncaught exceptions of one page."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("response", lambda r: self.errors.append(f"HTTP {r.status} from {r.url}") if r.status >= 500 else None)

    def _console(self, msg: Any) -> None:
        # Chromium logs every 4xx answer as a console error; those are API answers the page shows
        # the user (a refused step, a 401 before login), not JavaScript errors. 5xx answers are
        # caught by the response watch above.
        if msg.type == "error" and not _CLIENT_ERROR.match(msg.text):
            self.errors.append(f"console.{msg.type}: {msg.text}")


@pytest.fixture
def open_page(server: Server, browser: Any) -> Iterator[Callable[..., Any]]:
    """open_page(user=CITY_USER, password=..., lang='zh', size=(1366, 768)) -> a logged-in page at '/'.

    Logs in through the API in the browser's own context (the login form has its own test), so
    the page starts with the session cookie. Fails the test on any JavaScript error."""
    contexts: list[Any] = []
    watch = ConsoleWatch()

    def make(user: str = CITY_USER, password: str | None = None, *, lang: str = "zh",
             size: tuple[int, int] = (1366, 768), path: str = "/") -> Any:
        context = browser.new_context(viewport={"width": size[0], "height": size[1]}, base_url=server.base_url,
                                      locale="zh-CN" if lang == "zh" else "en-GB", timezone_id="Asia/Shanghai")
        contexts.append(context)
        # the language the user starts with (a later switch in the page is remembered over it)
        context.add_init_script(f"if (!localStorage.getItem('forewarn.lang')) localStorage.setItem('forewarn.lang', '{lang}')")
        pw = password or (CITY_PASSWORD if user == CITY_USER else DEMO_PASSWORD)
        answer = context.request.post("/api/v1/auth/login", data={"name": user, "password": pw})
        assert answer.ok, answer.text()
        page = context.new_page()
        watch.attach(page)
        page.goto(path)
        page.wait_for_selector("#page[data-page]")  # a page drawn (the control-room screen has no bar)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not watch.errors, "JavaScript errors on the page:\n" + "\n".join(watch.errors)


@pytest.fixture
def fresh_page(server: Server, browser: Any) -> Iterator[Any]:
    """A page with no session (for the login form), watched for JavaScript errors."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=server.base_url,
                                  locale="zh-CN", timezone_id="Asia/Shanghai")
    watch = ConsoleWatch()
    page = context.new_page()
    watch.attach(page)
    yield page
    context.close()
    assert not watch.errors, "JavaScript errors on the page:\n" + "\n".join(watch.errors)


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as tests/e2e/screenshots/NAME.png (named in the README)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
