"""Long-running commands: serve, demo, simulate, bench."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import errno
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from forewarn.access.bootstrap import ADMIN, DEMO_PASSWORD, ensure_admin, ensure_demo_accounts
from forewarn.alarms.queries import alarm_summary
from forewarn.app import Platform
from forewarn.cli import bench_pg
from forewarn.cli import store as store_cli
from forewarn.cli.common import UserError, open_store, settings_from
from forewarn.config import Settings
from forewarn.limits import raise_open_files_limit
from forewarn.roles import ALL, Role, RoleError, describe, not_ported, parse_roles
from forewarn.web.server import HttpListenError

__all__ = ["add_commands"]

log = logging.getLogger("forewarn")

#: where the demo listens unless told otherwise: a demo is for the person at this machine
DEMO_HOST = "127.0.0.1"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
ANY_HOST = frozenset({"0.0.0.0", "::", ""})


def _listen_opts(host: str) -> argparse.ArgumentParser:
    opts = argparse.ArgumentParser(add_help=False)
    opts.add_argument("--hj212-port", type=int, default=None, metavar="PORT",
                      help="HJ 212 TCP port (default 8212)")
    opts.add_argument("--hj212-host", default=None, metavar="ADDR",
                      help=f"address to listen on (default {host})")
    opts.add_argument("--http-port", type=int, default=None, metavar="PORT",
                      help="HTTP port: dashboard and API (default 8000; 0: any free port)")
    opts.add_argument("--http-host", default=None, metavar="ADDR",
                      help=f"address the HTTP server listens on (default {host})")
    opts.add_argument("--duration", type=float, default=None, metavar="S",
                      help="stop after S seconds (default: run until Ctrl-C)")
    return opts


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common, _listen_opts("0.0.0.0")], help="run the platform")
    p.add_argument("--role", default="all", metavar="ROLES",
                   help="the parts this process runs: ingest, rules, web, notify, or several with commas "
                        "(ingest,web); default all, the whole platform (docs/scale.md)")
    p.set_defaults(handler=serve)

    p = sub.add_parser(
        "demo", parents=[common, _listen_opts(DEMO_HOST)],
        help="register the seed fleet, run the platform and the simulator together",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed of the simulator")
    p.add_argument("--speed", type=float, default=1.0,
                   help="the demo runs this many times faster, the platform's clock included "
                        "(its data then lies in the future: use a fresh --data for it)")
    p.set_defaults(handler=demo)

    p = sub.add_parser("simulate", parents=[common], help="drive the simulated fleet at a platform")
    p.add_argument("--target", required=True, metavar="HOST:PORT", help="the platform's HJ 212 address")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated time runs this many times faster (device clocks run ahead)")
    p.set_defaults(handler=simulate)

    p = sub.add_parser("bench", parents=[common], help="benchmarks")
    bsub = p.add_subparsers(dest="bench_command", metavar="WHAT", required=True)
    b = bsub.add_parser("ingest", parents=[common],
                        help="points/s from HJ 212 frames over TCP to rows in SQLite, against the floor")
    b.add_argument("--points", type=int, default=1_000_000, help="points to send (default 1e6)")
    b.add_argument("--devices", type=int, default=200, help="device connections (default 200)")
    b.add_argument("--compare-rules", action="store_true",
                   help="also run with the rule engine off and print the ratio")
    b.add_argument("--compare-aggregation", action="store_true",
                   help="run with the background aggregation off, then on, and print the ratio (goal >= 0.9)")
    b.add_argument("--pairs", type=int, default=1, metavar="N",
                   help="with --compare-aggregation: N pairs of runs one after another, and their median ratio")
    b.add_argument("--idle", type=int, default=0, metavar="N",
                   help="instead: measure memory per idle connection with N connections")
    b.set_defaults(handler=bench)
    b = bsub.add_parser("ingest-procs", parents=[common],
                        help="points/s end to end with 1 and 2 'serve --role ingest' processes on one port, on SQLite "
                             "and PostgreSQL, against each engine's floor (docs/scale.md)")
    b.add_argument("--points", type=int, default=300_000, help="points to send a run (default 300,000)")
    b.add_argument("--devices", type=int, default=200, help="device connections (default 200)")
    b.add_argument("--processes", default="1,2", metavar="N,M", help="ingest processes of each run (default 1,2)")
    b.add_argument("--stores", default="sqlite,postgresql", metavar="KINDS",
                   help="sqlite, postgresql or both (default both)")
    b.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test", metavar="URL",
                   help="the PostgreSQL to measure (a schema of the bench's own is made there and dropped)")
    b.set_defaults(handler=bench_ingest_procs)
    b = bsub.add_parser("series", parents=[common],
                        help="a year of one point's minute data downsampled to a chart's points, timed")
    b.add_argument("--days", type=int, default=365, help="days of minute data (default 365)")
    b.add_argument("--max-points", type=int, default=2000, help="points the query may return (default 2000)")
    b.add_argument("--runs", type=int, default=20, help="warm runs timed after the cold one (default 20)")
    b.add_argument("--http", action="store_true",
                   help="also through GET /api/v1/points/{id}/series of a running platform, with the event loop's lag")
    b.set_defaults(handler=bench_series)
    b = bsub.add_parser("playback", parents=[common],
                        help="a day of a site with 30 points at one-minute resolution, loaded as one playback answer")
    b.add_argument("--runs", type=int, default=10, help="warm requests timed after the cold one (default 10)")
    b.set_defaults(handler=bench_playback)
    b = bsub.add_parser("forward", parents=[common],
                        help="forwarding to a real forewarn above: a backlog's drain rate, and the lag under load")
    b.add_argument("--devices", type=int, default=50, help="devices (default 50)")
    b.add_argument("--frames", type=int, default=5000, help="frames stored while the city is down (default 5,000)")
    b.add_argument("--rate", type=float, default=200.0, help="steady frames/s afterwards (default 200)")
    b.add_argument("--seconds", type=float, default=10.0, help="seconds of steady load (default 10)")
    b.set_defaults(handler=bench_forward)
    b = bsub.add_parser("mqtt", parents=[common],
                        help="MQTT ingest (ThingsBoard telemetry on forewarn's MQTT port) against HJ 212, same fleet")
    b.add_argument("--points", type=int, default=300_000, help="points to send each way (default 300,000)")
    b.add_argument("--devices", type=int, default=200, help="device connections (default 200)")
    b.set_defaults(handler=bench_mqtt)
    b = bsub.add_parser("overview", parents=[common],
                        help="the overview with 10,000 sites in scope: its API, and with --browser the page's "
                             "first render and filters")
    b.add_argument("--sites", type=int, default=10_000, help="sites in scope (default 10,000)")
    b.add_argument("--runs", type=int, default=15, help="warm runs timed (default 15)")
    b.add_argument("--browser", action="store_true", help="also time the page in headless Chromium")
    b.set_defaults(handler=bench_overview)
    b = bsub.add_parser("stats", parents=[common],
                        help="a month's figures for the demo city with 10,000 devices (synthesised aggregates)")
    b.add_argument("--devices", type=int, default=10_000, help="devices registered (default 10,000)")
    b.add_argument("--runs", type=int, default=10, help="warm runs timed (default 10)")
    b.set_defaults(handler=bench_stats)
    b = bsub.add_parser("report", parents=[common],
                        help="a month's report for the demo city with 10,000 devices (the stats bench's state)")
    b.add_argument("--devices", type=int, default=10_000, help="devices registered (default 10,000)")
    b.add_argument("--runs", type=int, default=5, help="warm runs timed (default 5)")
    b.add_argument("--keep", type=Path, metavar="DIR", help="build the state into DIR once and reuse it")
    b.set_defaults(handler=bench_report)
    b = bsub.add_parser("loop", parents=[common],
                        help="the event loop's lag and a device's 9014 while users open pages and edit the registry")
    b.add_argument("--devices", type=int, default=10_000, help="devices registered (default 10,000)")
    b.add_argument("--duration", type=float, default=30.0, help="seconds measured (default 30)")
    b.set_defaults(handler=bench_loop)
    b = bsub.add_parser("flood", parents=[common],
                        help="a good device's 9014 while another peer floods the HJ 212 port (issue 12)")
    b.add_argument("--duration", type=float, default=20.0, help="seconds of flood (default 20)")
    b.add_argument("--mode", choices=("malformed", "valid"), default="malformed",
                   help="## and random bytes, or a registered device's frames at full speed (default malformed)")
    b.set_defaults(handler=bench_flood)
    store_cli.add_bench(bsub, common)  # bench migrate: with the command it measures
    bench_pg.add_bench(bsub, common)  # bench pg: the PostgreSQL store


def _serve_settings(args: argparse.Namespace, default_host: str | None = None) -> Settings:
    """Settings from the options; ``default_host`` replaces the listening addresses that
    neither an option nor the settings file changed (the demo's loopback)."""
    port = args.hj212_port
    if port is not None and not 0 <= port <= 65535:
        raise UserError(f"--hj212-port {port} is not a TCP port (0-65535)")
    if args.http_port is not None and not 0 <= args.http_port <= 65535:
        raise UserError(f"--http-port {args.http_port} is not a TCP port (0-65535)")
    if args.duration is not None and args.duration <= 0:
        raise UserError("--duration must be positive")
    settings = settings_from(args, hj212_port=port, hj212_host=args.hj212_host,
                             http_port=args.http_port, http_host=args.http_host)
    if default_host is not None:
        fallback = Settings()
        settings = dataclasses.replace(
            settings,
            hj212_host=default_host if settings.hj212_host == fallback.hj212_host and args.hj212_host is None
            else settings.hj212_host,
            http_host=default_host if settings.http_host == fallback.http_host and args.http_host is None
            else settings.http_host,
        )
    return settings


async def _start(platform: Platform) -> None:
    try:
        await platform.start()
    except OSError as exc:
        await platform.stop()
        s = platform.settings
        http = isinstance(exc, HttpListenError)
        what, host, port = ("HTTP API", s.http_host, s.http_port) if http else ("HJ 212", s.hj212_host, s.hj212_port)
        option = "http" if http else "hj212"
        hint = (f"is another forewarn running? choose another --{option}-port"
                if exc.errno == errno.EADDRINUSE else f"check --{option}-host")
        raise UserError(
            f"cannot listen on {host}:{port} for {what} ({exc.strerror or exc}); {hint}"
        ) from None


async def _until_stopped(duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=duration)


def _base_url(settings: Settings, platform: Platform) -> str:
    """The HTTP server's address as a browser on this machine opens it."""
    host = settings.http_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{platform.http_port}"


def _api_url(settings: Settings, platform: Platform) -> str:
    return f"{_base_url(settings, platform)}/api/v1"


def _cookie_hint(settings: Settings) -> str:
    """A warning for a server others reach over plain HTTP: browsers keep a Secure cookie
    only from https or from this machine's own loopback, so logins would not stick."""
    if not settings.cookie_secure or settings.http_host in LOOPBACK:
        return ""
    return (f"note: the dashboard's session cookie is Secure; browsers keep it only over HTTPS or from "
            f"http://127.0.0.1 and http://localhost. Serving plain HTTP at {settings.http_host} to other "
            "machines, set cookie_secure = 0 in forewarn.toml (or put TLS in front)\n")


def _to_tty(text: str) -> bool:
    """Write ``text`` to the controlling terminal; False when there is none."""
    try:
        with open("/dev/tty", "w", encoding="utf-8") as tty:
            tty.write(text + "\n")
    except OSError:
        return False
    return True


def _first_start(settings: Settings) -> None:
    """On the very first start, create the administrator and tell its password to the user at
    the terminal only: stdout when it is one, else the controlling terminal; never into a pipe
    or a file (``make demo | tee demo.log``), where a one-time password outlives its use."""
    with open_store(settings, create=True) as store:
        line = ensure_admin(store.db)
    if line is None:
        return
    data = f"--data {settings.data_dir}"
    if sys.stdout.isatty():
        print(line)
    elif _to_tty(line):
        print(f"first start: administrator {ADMIN} created; its one-time password is on your terminal, "
              "not in this output")
    else:
        print(f"first start: administrator {ADMIN} created; its one-time password is shown only on a terminal: "
              f"set one with .venv/bin/forewarn users passwd {ADMIN} {data}")
    print(f"  an API token for it: .venv/bin/forewarn users token {ADMIN} --days 1 {data}", flush=True)


def _raise_open_files() -> None:
    """Every connection is an open file: the common soft limit of 1,024 let 1,100 idle
    connections lock every device and the HTTP port out (forewarn.limits)."""
    before, after = raise_open_files_limit()
    if after > before:
        log.info("open-file limit raised from %d to %d", before, after)


def _roles(args: argparse.Namespace, settings: Settings) -> frozenset[Role]:
    """``--role`` as roles this store can run; a mistake is one line."""
    try:
        roles = parse_roles(args.role)
    except RoleError as exc:
        raise UserError(str(exc)) from None
    refusal = not_ported(roles, settings.store_url)
    if refusal is not None:
        raise UserError(refusal)
    return roles


def _serving(settings: Settings, platform: Platform) -> str:
    """What this process serves, in one line."""
    parts = []
    if platform.hj212 is not None:
        shared = " (port shared with other ingest processes)" if platform.hj212.reuse_port else ""
        parts.append(f"HJ 212 on {settings.hj212_host}:{platform.hj212_port}{shared}")
    if platform.http is not None:
        parts.append(f"the dashboard on {_base_url(settings, platform)}/, the HTTP API on "
                     f"{_api_url(settings, platform)}")
    if platform.alarms is not None:
        parts.append("the rules")
    if platform.dispatcher is not None or (platform.alarms is not None and platform.alarms.dispatcher is not None):
        parts.append("notifications")
    role = "" if platform.roles == ALL else f" (role {describe(platform.roles)})"
    where = f"{settings.data_dir}/" if not settings.store else _without_password(settings.store)
    served = ", ".join(parts) or "nothing to devices or users"
    return f"forewarn{role} serving {served}, data in {where} (Ctrl-C to stop)"


def _without_password(url: str) -> str:
    """A store URL fit for a terminal or a log: a password in it is replaced by stars."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


def serve(args: argparse.Namespace) -> int:
    settings = _serve_settings(args)
    roles = _roles(args, settings)
    if Role.WEB in roles:
        _first_start(settings)
    _raise_open_files()

    async def main() -> None:
        platform = Platform(settings, http=True, roles=roles)
        await _start(platform)
        print(_serving(settings, platform), flush=True)
        if platform.http is not None:
            print(_cookie_hint(settings), end="", flush=True)
        try:
            await _until_stopped(args.duration)
        finally:
            await platform.stop()
        print("forewarn stopped; everything received was stored", flush=True)

    asyncio.run(main())
    return 0


def _register_demo_fleet(settings: Settings, mns: set[str]) -> str:
    """Import the demo fleet unless some of it is registered already; the line that says which.

    Once registered, the fleet is the user's: a site they stopped, a device they claimed or
    retired must stay as they left it, so a second ``make demo`` imports nothing."""
    from forewarn.cli.registry import import_files
    from forewarn.sim import fleet_files, fleet_regions_file

    with open_store(settings, create=True) as store:
        present = sum(1 for row in store.export_devices() if row.mn in mns)
    if present:
        return f"the demo fleet is already registered: {present} devices; not imported again"
    result, _ = import_files(settings, [fleet_regions_file(), *fleet_files()])
    return (f"registered the demo fleet: {result.devices_added + result.devices_updated} devices "
            f"at {result.sites} sites of {result.enterprises} enterprises in {settings.data_dir}/")


def _sped_up(speed: float) -> Callable[[], float]:
    """The platform's clock for a demo at ``speed``: now, then ``speed`` seconds a second, so
    that the platform and the simulated devices agree on the time."""
    if speed == 1:
        return time.time
    t0 = time.time()
    return lambda: t0 + (time.time() - t0) * speed


def _demo_outlines(settings: Settings) -> None:
    """The map's region outlines for the demo's cities, on a first run (never over a deployer's own)."""
    from forewarn.cli.regions import import_demo_outlines
    from forewarn.geo.outlines import demo_outline_files

    done = import_demo_outlines(settings, demo_outline_files())
    if done is not None:
        print("imported the outlines of the demo's regions for the map", flush=True)


def demo(args: argparse.Namespace) -> int:
    from forewarn.sim.demo import UNREGISTERED_DEMO_MN, demo_fleet, run_demo_simulator

    settings = _serve_settings(args, default_host=DEMO_HOST)
    if not 0 < args.speed <= 3600:
        raise UserError("--speed must be above 0 and at most 3600")
    fleet = demo_fleet()
    registered = _register_demo_fleet(settings, {d.mn for d in fleet if d.mn != UNREGISTERED_DEMO_MN})
    _demo_outlines(settings)
    _first_start(settings)
    _raise_open_files()
    with open_store(settings) as store:
        accounts = ensure_demo_accounts(store.db)
    print(registered, flush=True)

    async def main() -> None:
        platform = Platform(settings, http=True, clock=_sped_up(args.speed))
        await _start(platform)
        from forewarn.cli.cameras import demo_cameras  # two demo sites' simulated cameras (their test card's port)

        first = registered.startswith("registered")
        await asyncio.to_thread(demo_cameras, settings, platform.http_port, first_run=first)
        port = platform.hj212_port
        data = f"--data {settings.data_dir}"
        base = _base_url(settings, platform)
        api = f"{base}/api/v1"
        print(
            f"\nforewarn is running: HJ 212 on {settings.hj212_host}:{port}, simulator connected.\n"
            f"dashboard: {base}/\n"
            f"HTTP API: {api} (interactive docs: {api}/docs; OpenAPI: {api}/openapi.json)\n"
            f"{_cookie_hint(settings)}"
            f"demo accounts, password '{DEMO_PASSWORD}' (log in to the dashboard, or get an API token):\n"
            + "\n".join(accounts) + "\n"
            "In another terminal, try (the token line reuses $TOKEN once set; a new one lasts a day):\n"
            f"  TOKEN=${{TOKEN:-$(.venv/bin/forewarn {data} users token pingcheng --days 1 | tail -1)}}"
            "   # 平城区's view\n"
            f"  curl -H \"Authorization: Bearer $TOKEN\" '{api}/alarms?open=true&lang=zh'\n"
            f"  curl -H \"Authorization: Bearer $TOKEN\" '{api}/sites?format=csv'\n"
            f"  curl -N -H \"Authorization: Bearer $TOKEN\" '{api}/live/sse?types=alarm'   # live alarms\n"
            f"  .venv/bin/forewarn {data} status\n"
            f"  .venv/bin/forewarn {data} readings --mn <MN> --kind rtd\n"
            f"  .venv/bin/forewarn {data} registry export | head\n"
            f"  .venv/bin/forewarn {data} devices unknown\n"
            f"  .venv/bin/forewarn {data} alarms list          # 告警: dust, gas leak, treatment off, fume ...\n"
            f"  .venv/bin/forewarn {data} alarms show 1\n"
            "The simulator first replays the last minutes of the city (so the charts have data and the\n"
            "first alarms are there at once), then every domain's incidents follow within minutes.\n"
            f"One simulated device ({UNREGISTERED_DEMO_MN}) is not in the registry: its data waits\n"
            "in quarantine until you register it, then becomes ordinary readings.\n"
            "Ctrl-C stops the demo; the data stays in the data directory.\n",
            flush=True,
        )
        sim = asyncio.create_task(
            run_demo_simulator("127.0.0.1" if settings.hj212_host in ANY_HOST else settings.hj212_host, port,
                               start_ms=int(platform.clock() * 1000), duration_s=args.duration,
                               seed=args.seed, speed=args.speed, log=log.info)
        )
        ticker = asyncio.create_task(_report_every(platform, settings, 15.0))
        try:
            await _until_stopped(args.duration)
        finally:
            sim.cancel()
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sim
            await platform.stop()
        with open_store(settings) as store:
            report = store.status(int(time.time() * 1000), settings.offline_after_intervals)
        print(f"demo stopped: {report['readings_stored']} readings stored, "
              f"{report['packets_rejected']} packets rejected; data kept in {settings.data_dir}/")

    asyncio.run(main())
    return 0


async def _report_every(platform: Platform, settings: Settings, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        assert platform.read_store is not None and platform.hj212 is not None
        report = platform.read_store.status(int(time.time() * 1000), settings.offline_after_intervals)
        alarms = alarm_summary(platform.read_store.db)
        print(
            f"[status] {len(platform.hj212.connections)} connections, "
            f"{report['devices_online']}/{report['devices_registered']} devices online, "
            f"{report['readings_stored']} readings stored, "
            f"{report['packets_rejected']} packets rejected, {alarms['alarms_open']} alarms open",
            flush=True,
        )


def _target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise UserError(f"--target {text!r} is not HOST:PORT (e.g. 127.0.0.1:8212)")
    return host, int(port)


def simulate(args: argparse.Namespace) -> int:
    host, port = _target(args.target)
    if args.duration is not None and args.duration <= 0:
        raise UserError("--duration must be positive")
    if not 0 < args.speed <= 3600:
        raise UserError("--speed must be above 0 and at most 3600")
    from forewarn.sim import run_simulator

    try:
        stats = asyncio.run(run_simulator(host, port, duration_s=args.duration, seed=args.seed,
                                          speed=args.speed, log=log.info))
    except KeyboardInterrupt:
        return 0  # the simulator has logged its summary
    print(stats.summary())
    return 0


def bench(args: argparse.Namespace) -> int:
    from forewarn.bench.ingest import run_idle_bench, run_ingest_bench

    settings = settings_from(args)
    if args.idle < 0 or args.devices < 1 or args.points < args.devices * 30:
        raise UserError("--devices must be at least 1, --points at least 30 per device, --idle positive")
    if args.idle:
        return run_idle_bench(args.idle)
    return run_ingest_bench(settings, points=args.points, devices=args.devices, compare_rules=args.compare_rules,
                            compare_aggregation=args.compare_aggregation, pairs=max(args.pairs, 1))


def bench_ingest_procs(args: argparse.Namespace) -> int:
    from forewarn.bench.ingest_procs import run_ingest_procs_bench

    try:
        processes = [int(n) for n in args.processes.split(",")]
    except ValueError:
        raise UserError(f"--processes {args.processes!r}: write counts with commas, e.g. 1,2") from None
    stores = [k.strip() for k in args.stores.split(",")]
    if any(k not in ("sqlite", "postgresql") for k in stores) or not stores:
        raise UserError(f"--stores {args.stores!r}: sqlite, postgresql or both (sqlite,postgresql)")
    if any(n < 1 for n in processes) or args.devices < 1 or args.points < args.devices * 30:
        raise UserError("--processes and --devices must be at least 1, --points at least 30 per device")
    return run_ingest_procs_bench(points=args.points, devices=args.devices, processes=processes, stores=stores,
                                  pg=args.pg, batch_rows=settings_from(args).batch_max_rows)


def bench_series(args: argparse.Namespace) -> int:
    from forewarn.bench.series import run_series_bench

    if args.days < 1 or args.max_points < 2 or args.runs < 1:
        raise UserError("--days and --runs must be at least 1, --max-points at least 2")
    return run_series_bench(days=args.days, max_points=args.max_points, runs=args.runs, http=args.http)


def bench_playback(args: argparse.Namespace) -> int:
    from forewarn.bench.playback import run_playback_bench

    if args.runs < 1:
        raise UserError("--runs must be at least 1")
    return run_playback_bench(runs=args.runs)


def bench_forward(args: argparse.Namespace) -> int:
    from forewarn.bench.forward import run_forward_bench

    if args.devices < 1 or args.frames < 1 or args.rate <= 0 or args.seconds <= 0:
        raise UserError("--devices, --frames, --rate and --seconds must be positive")
    return run_forward_bench(devices=args.devices, frames=args.frames, rate=args.rate, seconds=args.seconds)


def bench_mqtt(args: argparse.Namespace) -> int:
    from forewarn.bench.mqtt import run_mqtt_bench

    if args.points < 1 or args.devices < 1:
        raise UserError("--points and --devices must be at least 1")
    return run_mqtt_bench(settings_from(args), points=args.points, devices=args.devices)


def bench_overview(args: argparse.Namespace) -> int:
    from forewarn.bench.overview import run_overview_bench

    if args.sites < 1 or args.runs < 1:
        raise UserError("--sites and --runs must be at least 1")
    return run_overview_bench(sites=args.sites, runs=args.runs, browser=args.browser)


def bench_stats(args: argparse.Namespace) -> int:
    from forewarn.bench.stats import run_stats_bench

    if args.devices < 1 or args.runs < 1:
        raise UserError("--devices and --runs must be at least 1")
    return run_stats_bench(devices=args.devices, runs=args.runs)


def bench_report(args: argparse.Namespace) -> int:
    from forewarn.bench.report import run_report_bench

    if args.devices < 1 or args.runs < 1:
        raise UserError("--devices and --runs must be at least 1")
    return run_report_bench(devices=args.devices, runs=args.runs, keep=args.keep)


def bench_loop(args: argparse.Namespace) -> int:
    from forewarn.bench.loop import run_loop_bench

    if args.devices < 1 or args.duration <= 0:
        raise UserError("--devices must be at least 1, --duration positive")
    return run_loop_bench(devices=args.devices, duration_s=args.duration)


def bench_flood(args: argparse.Namespace) -> int:
    from forewarn.bench.flood import run_flood_bench

    if args.duration <= 0:
        raise UserError("--duration must be positive")
    return run_flood_bench(duration_s=args.duration, mode=args.mode)
