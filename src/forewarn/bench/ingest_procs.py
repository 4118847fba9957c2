"""``forewarn bench ingest-procs``: end-to-end ingest with one and two ingest processes, on SQLite
and on PostgreSQL, against each engine's floor measured in the same run.

Why: the scale mode's claim is that ingest grows by adding processes (and machines) in front of
one PostgreSQL, while two processes on one SQLite file only contend for its lock. This measures
it the way a device sees it: the fleet of ``bench ingest`` (electricity monitors, 30 points a
frame, 16 frames in flight per connection) from a client process, over loopback, to real
``forewarn serve --role ingest`` processes sharing the HJ 212 port (SO_REUSEPORT: the kernel
spreads the connections); the clock runs from the first frame to the last 9014, and every point
must be committed (counted through the store) or the run fails.

Floors: SQLite's as ``bench ingest`` measures it (plain executemany in the same transactions);
PostgreSQL's a psycopg binary COPY of the same rows into the same partitioned table, in
transactions of the same size, with nothing else (no staging, no first-write-wins check).

Where the time goes: CPU seconds of the ingest processes' main threads (the event loop:
framing, the HJ 212 codec, the handler) and of their other threads (the writer: psycopg or
sqlite3 and the store's Python; the reader threads, idle here), and of the PostgreSQL backends
serving them, read from /proc around the run.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

from forewarn.bench.ingest import FIELDS, METERS, POINTS_PER_FRAME, ROLES, _client, _floor, _mn
from forewarn.catalogue import Catalogue
from forewarn.store.base import DeviceRow, PointRow
from forewarn.store.open import open_store

__all__ = ["run_ingest_procs_bench"]

_TICK = os.sysconf("SC_CLK_TCK")


def _fleet(url: str, devices: int) -> None:
    rows = [DeviceRow(region_code="140213", region_name="平城区", parent_region_code="140200",
                      enterprise=f"基准测试企业{i}", site="厂区", site_type="factory", mn=_mn(i),
                      password="123456", interval_s=60, device_kind="power_meter") for i in range(devices)]
    points = [PointRow(_mn(i), m, f, role=ROLES[m]) for i in range(devices) for m in METERS for f in FIELDS]
    with contextlib.closing(open_store(url, Catalogue())) as store:
        store.apply_registry(rows, points)


def _stored(url: str) -> int:
    with contextlib.closing(open_store(url, Catalogue(), create=False)) as store:
        return store.counters().get("readings_stored", 0)


@contextlib.contextmanager
def _pg_schema(base: str) -> Iterator[str]:
    """A fresh schema of the bench's own on ``base``; dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def _cpu_by_thread(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of ``pid`` so far, by thread name (reader threads added up)."""
    seconds: dict[str, float] = {}
    with contextlib.suppress(FileNotFoundError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii") as f:
                stat = f.read()
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            # CPython 3.11 gives its threads no OS name: the main thread is the event loop, the
            # rest are the writer's (most of it), the readers' and the connection pool's
            part = "event loop" if tid == str(pid) else "writer and other threads" if name == "python" else name
            seconds[part] = seconds.get(part, 0.0) + (int(fields[11]) + int(fields[12])) / _TICK
    return seconds


def _cpu(pid: int) -> float:
    with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    return 0.0


def _pg_backends(dsn: str, pids: list[int]) -> list[int]:
    """The PostgreSQL backends serving ``pids`` (their TCP connections' ports in pg_stat_activity)."""
    ports = set()
    inodes: set[str] = set()
    for pid in pids:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    with open("/proc/net/tcp", encoding="ascii") as table:
        for line in list(table)[1:]:
            cols = line.split()
            if cols[9] in inodes and int(cols[2].rsplit(":", 1)[1], 16) == 5432:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL").fetchall()
    return [int(pid) for pid, port in rows if port in ports]


def _serve(url: str, data: Path, port: int, count: int) -> list[subprocess.Popen[str]]:
    """``count`` ingest processes on ``port``, each ready (its serving line printed)."""
    data.mkdir(parents=True, exist_ok=True)
    config = data / "forewarn.toml"
    config.write_text(f'store = "{url}"\nmax_connections_per_peer = 0\naggregation_enabled = 0\n'
                      "hj212_reuse_port = 1\n", encoding="utf-8")
    procs = []
    for _ in range(count):
        proc = subprocess.Popen(
            [sys.executable, "-m", "forewarn", "serve", "--role", "ingest", "--data", str(data), "--config",
             str(config), "--hj212-host", "127.0.0.1", "--hj212-port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        for line in proc.stdout:
            if "serving" in line:
                break
        else:
            raise RuntimeError(f"an ingest process did not start (exit {proc.wait()})")
    return procs


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def _run(url: str, data: Path, processes: int, devices: int, frames: int) -> tuple[float, dict[str, float]]:
    """Seconds end to end and CPU seconds by part, for ``processes`` ingest processes on ``url``."""
    ctx = mp.get_context("spawn")
    ready: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    result: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    with socket.socket() as holder:  # the port, held with SO_REUSEPORT until the processes bind it
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        procs = _serve(url, data, port, processes)
    try:
        pids = [p.pid for p in procs]
        backends = _pg_backends(url, pids) if not url.startswith("sqlite") else []
        before = [_cpu_by_thread(pid) for pid in pids]
        pg_before = {b: _cpu(b) for b in backends}
        client = ctx.Process(target=_client, args=(port, devices, frames, ready, result))
        client.start()
        ready.get()
        elapsed: float = result.get()
        after = [_cpu_by_thread(pid) for pid in pids]
        pg_after = {b: _cpu(b) for b in backends}
        client.join()
    finally:
        _stop(procs)
    parts: dict[str, float] = {}
    for b, a in zip(before, after, strict=True):
        for name, secs in a.items():
            parts[name] = parts.get(name, 0.0) + secs - b.get(name, 0.0)
    if backends:
        parts["postgres backends"] = sum(pg_after[b] - pg_before[b] for b in backends)
    return elapsed, parts


def _pg_floor(url: str, devices: int, frames: int, batch_rows: int) -> float:
    """Binary COPY of the same rows, in transactions of ``batch_rows``, into the store's table."""
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [int(r[0]) for r in conn.execute("SELECT id FROM points ORDER BY id").fetchall()]
        base = 1767196800000
        conn.execute("SELECT forewarn_readings_partition('rtd', %s)", (base,))
        rows = [(ids[d * POINTS_PER_FRAME + k], base + n * 60000, float((d * 7 + n * 3 + k) % 500) + 0.125, "N")
                for d in range(devices) for n in range(frames) for k in range(POINTS_PER_FRAME)]
        start = time.perf_counter()
        for i in range(0, len(rows), batch_rows):
            with conn.transaction(), conn.cursor() as cur, cur.copy(
                    "COPY readings_rtd (point_id, ts, value, flag) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "int8", "float8", "text"])
                for row in rows[i:i + batch_rows]:
                    copy.write_row(row)
        return time.perf_counter() - start


def _load() -> str:
    with open("/proc/loadavg", encoding="ascii") as f:
        return " ".join(f.read().split()[:3])


def run_ingest_procs_bench(*, points: int, devices: int, processes: list[int], stores: list[str], pg: str,
                           batch_rows: int) -> int:
    frames = max(1, points // (devices * POINTS_PER_FRAME))
    total = devices * frames * POINTS_PER_FRAME
    print(f"{devices} connections, {frames} frames each, {POINTS_PER_FRAME} points a frame: {total} points a run; "
          f"{os.cpu_count()} cores, load {_load()}", flush=True)
    results: list[str] = []
    with tempfile.TemporaryDirectory(prefix="forewarn-bench-procs-") as tmp:
        for kind in stores:
            for count in processes:
                name = f"{kind}-{count}"
                with contextlib.ExitStack() as stack:
                    if kind == "sqlite":
                        url = f"sqlite:///{Path(tmp) / name / 'forewarn.db'}"
                    else:
                        url = stack.enter_context(_pg_schema(pg))
                    _fleet(url, devices)
                    elapsed, parts = _run(url, Path(tmp) / name, count, devices, frames)
                    stored = _stored(url)
                if stored != total:
                    print(f"error: {stored} points stored, {total} sent ({name})")
                    return 1
                spent = ", ".join(f"{part} {secs:.1f} s" for part, secs in sorted(parts.items(), key=lambda p: -p[1]))
                print(f"  {kind}, {count} ingest process{'es' if count > 1 else ''}: {elapsed:.2f} s, "
                      f"{total / elapsed:.0f} points/s (load {_load()}); CPU: {spent}", flush=True)
                results.append(f"{kind}_{count}_points_per_s={total / elapsed:.0f}")
            if kind == "sqlite":
                floor = _floor(Path(tmp) / "floor.db", devices, frames, batch_rows)
            else:
                with _pg_schema(pg) as url:
                    _fleet(url, devices)
                    floor = _pg_floor(url, devices, frames, batch_rows)
            how = "executemany" if kind == "sqlite" else "binary COPY"
            print(f"  {kind} floor: {total / floor:.0f} rows/s ({how})", flush=True)
            results.append(f"{kind}_floor_per_s={total / floor:.0f}")
    print(" ".join(results))
    return 0
