"""``forewarn bench pg``: the PostgreSQL store's figures (registered by the bench command's parser)."""

from __future__ import annotations

import argparse
from typing import Any

from forewarn.cli.common import UserError

__all__ = ["add_bench"]

LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/test"


def add_bench(bsub: Any, common: argparse.ArgumentParser) -> None:
    b = bsub.add_parser("pg", parents=[common],
                        help="PgStore.write rows/s against a plain COPY, BRIN against B-tree, and the series "
                             "query over a year of minute data, on PostgreSQL")
    b.add_argument("--dsn", default=LOCAL_PG, metavar="URL",
                   help=f"the PostgreSQL to measure on, in fresh schemas dropped after (default {LOCAL_PG})")
    b.add_argument("--batches", type=int, default=20, help="10,000-row batches written each way (default 20)")
    b.add_argument("--days", type=int, default=365, help="days of minute data for the series (default 365)")
    b.add_argument("--max-points", type=int, default=2000, help="points the series may return (default 2000)")
    b.add_argument("--runs", type=int, default=20, help="warm series runs timed (default 20)")
    b.add_argument("--skip-writes", action="store_true", help="only the series")
    b.set_defaults(handler=bench_pg)


def bench_pg(args: argparse.Namespace) -> int:
    import psycopg

    from forewarn.bench.pg import run_pg_bench

    if args.batches < 1 or args.days < 1 or args.runs < 1 or args.max_points < 2:
        raise UserError("--batches, --days and --runs must be at least 1, --max-points at least 2")
    try:
        return run_pg_bench(args.dsn, batches=args.batches, days=args.days, max_points=args.max_points,
                            runs=args.runs, skip_writes=args.skip_writes)
    except psycopg.OperationalError as exc:
        raise UserError(f"cannot use PostgreSQL at {args.dsn.split('@')[-1]}: {str(exc).strip().splitlines()[-1]}") \
            from exc
