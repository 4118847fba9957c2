"""One notification dispatcher as a process of its own, for the claim tests (no tests here).

    python -m tests.integration.notify_worker STORE_URL NOTIFY_TOML OWNER [LEASE_S]

It runs the real :class:`Dispatcher` over the store the URL names (the outbox there, real
channels to real receivers) on the wall clock, says ``ready OWNER`` on stdout once it runs,
and stops on SIGTERM as the platform does (sends in flight abandoned, claims released). A
SIGKILL is a dispatcher that dies mid-send: its claims stay until their lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from forewarn.alarms.notify import Dispatcher, load_notify_config
from forewarn.store.notice_outbox import open_notice_outbox


async def main(url: str, config_path: str, owner: str, lease_s: float | None) -> None:
    dispatcher = Dispatcher(open_notice_outbox(url), load_notify_config(Path(config_path)),
                            owner=owner, lease_s=lease_s, poll_s=0.05)
    task = asyncio.create_task(dispatcher.run())
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    await asyncio.sleep(0)  # run() has begun
    print(f"ready {owner}", flush=True)
    with contextlib.suppress(asyncio.CancelledError):
        await task


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], args[1], args[2], float(args[3]) if len(args) > 3 else None))
