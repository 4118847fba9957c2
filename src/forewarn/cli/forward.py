"""``forewarn forward status``: each forwarding target's backlog, lag and last error."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import msgspec

from forewarn.cli.common import open_store, settings_from
from forewarn.forward.config import load_targets
from forewarn.forward.service import target_status

__all__ = ["add_commands"]


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("forward", parents=[common], help="forwarding upward (forward.toml)")
    fsub = p.add_subparsers(dest="forward_command", metavar="WHAT", required=True)
    s = fsub.add_parser("status", parents=[common], help="each target: backlog, lag, delivered, last error")
    s.add_argument("--format", default="text", choices=["text", "json"])
    s.set_defaults(handler=status)


def status(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    targets = load_targets(settings.forward_path)
    if not targets:
        print(f"no forwarding targets ({settings.forward_path} does not exist or lists none)")
        return 0
    with open_store(settings) as store:
        rows = target_status(store.db, targets, int(time.time() * 1000), settings.tz)
    if args.format == "json":
        print(json.dumps(msgspec.to_builtins(rows), ensure_ascii=False, indent=2))
        return 0
    for r in rows:
        lag = "-" if r.lag_s is None else f"{r.lag_s:.0f} s"
        print(f"{r.name}  {r.protocol} {r.address}  backlog {r.backlog}  lag {lag}  delivered {r.delivered} "
              f"values in {r.frames} frames  last sent {r.last_sent or '-'}")
        if r.last_error:
            print(f"  last error ({r.last_error_at}): {r.last_error}")
    return 0
