"""The rule engine's cost a frame, without I/O: `Engine.on_batch` over the `bench ingest` fleet.

Each frame is one batch of 30 readings (three meters x Ia Ib Ic Ua Ub Uc Pt Pa Pb Pc), every
preset in force, judged and taken as committed (the pipeline's path: judge, then settle on the
commit). It measures (in CPU time, not wall time) what the journal of batches in flight (rules/inflight.py) costs the
event loop, CPU only, so it is steadier than the end-to-end bench on a loaded machine. Run the
same file against two trees to compare (PYTHONPATH=TREE/src).

    .venv/bin/python bench/engine_micro.py [--devices 200] [--frames 30] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from forewarn.catalogue import Catalogue
from forewarn.model import Kind
from forewarn.rules.catalog import DeviceContext, RuleCatalog
from forewarn.rules.engine import Engine
from forewarn.rules.files import load_presets
from forewarn.store.base import IngestBatch, ReadingBatch

T0 = 1_795_305_600_000
FIELDS = ("Ia", "Ib", "Ic", "Ua", "Ub", "Uc", "Pt", "Pa", "Pb", "Pc")
QUANTITY = {"I": ("current", "A"), "U": ("voltage", "V"), "P": ("active_power", "kW")}
ROLES = {"100001": "production", "100002": "treatment", "100003": "production"}


def build(devices: int) -> Engine:
    contexts = {i: DeviceContext(i, f"BENCH{i:019d}", 60, "power_meter", 1000 + i, "厂区", f"企业{i}", "factory",
                                 "140213", "平城区", T0 - 3600_000) for i in range(1, devices + 1)}
    points = {(i, meter, f): (f"{meter}-{f}", *QUANTITY[f[0]][:1], QUANTITY[f[0]][1], role, None, None, f)
              for i in contexts for meter, role in ROLES.items() for f in FIELDS}
    rules = load_presets()
    return Engine(rules, {r: 1 for r in rules.rules}, RuleCatalog(contexts, points, Catalogue()), {})


def frames(devices: int, count: int, offset: int) -> list[tuple[IngestBatch, int]]:
    out = []
    for n in range(count):
        ts = T0 + (offset + n) * 60_000
        for i in range(1, devices + 1):
            # the production lines run; the treatment line stops now and then (the composites work)
            rows = [(meter, f, ts, (0.0 if meter == "100002" and n % 7 == 3 else 40.0 + n % 5), "N")
                    for meter in ROLES for f in FIELDS]
            out.append((IngestBatch(readings=[ReadingBatch(i, Kind.RTD, rows)]), ts))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--frames", type=int, default=30, help="frames per device per run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    engine = build(args.devices)
    engine.on_batch(frames(args.devices, 1, 0)[0][0], T0)  # bind outside the timing
    for batch, ts in frames(args.devices, 1, 0):
        engine.on_batch(batch, ts)
    per_frame = []
    for run in range(args.runs):
        work = frames(args.devices, args.frames, 1 + run * args.frames)
        started = time.process_time()
        for batch, ts in work:
            engine.on_batch(batch, ts)
        per_frame.append((time.process_time() - started) / len(work) * 1e6)
    print(f"engine a frame of 30 points: median {statistics.median(per_frame):.1f} us "
          f"(runs: {', '.join(f'{x:.1f}' for x in per_frame)})")


if __name__ == "__main__":
    main()
