"""Login rate limiting, in memory (one serving process), with an injected clock.

Failures are counted per user name and per client address over a sliding window; a key with
too many is locked for a while. A success clears the name's failures, not the address's (else
an attacker could reset their address by logging into an account of their own). The address
limit is higher than the name's, since one office's users may share an address.

    limiter = LoginRateLimiter()
    wait = limiter.retry_after(name, address)
    if wait > 0: refuse, "try again in {wait:.0f} s"
    elif authenticate(...): limiter.success(name, address)
    else: limiter.failure(name, address)

Nothing is persisted: a restart forgets the counts (and the locks), which is acceptable for a
limit whose purpose is to slow guessing down.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

__all__ = ["LoginRateLimiter"]


class LoginRateLimiter:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        max_failures_per_address: int = 20,
        window_s: float = 300.0,
        lockout_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if max_failures < 1 or max_failures_per_address < 1 or window_s <= 0 or lockout_s < 0:
            raise ValueError("rate limits must be positive")
        self.max_failures = max_failures
        self.max_failures_per_address = max_failures_per_address
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.clock = clock
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._locked_until: dict[tuple[str, str], float] = {}

    @staticmethod
    def _keys(name: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("name", name.strip().casefold()), ("addr", address)

    def retry_after(self, name: str, address: str) -> float:
        """Seconds until a login by ``name`` from ``address`` may be tried; 0 if it may now."""
        now = self.clock()
        wait = 0.0
        for key in self._keys(name, address):
            until = self._locked_until.get(key)
            if until is None:
                continue
            if until <= now:
                del self._locked_until[key]
            else:
                wait = max(wait, until - now)
        return wait

    def allowed(self, name: str, address: str) -> bool:
        return self.retry_after(name, address) == 0

    def failure(self, name: str, address: str) -> None:
        """Count a failed login; lock the name or the address when it has had too many."""
        now = self.clock()
        name_key, addr_key = self._keys(name, address)
        for key, limit in ((name_key, self.max_failures), (addr_key, self.max_failures_per_address)):
            times = self._failures.get(key)
            if times is None:
                if len(self._failures) >= self.max_keys:
                    self._prune(now)
                times = self._failures[key] = deque()
            times.append(now)
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if len(times) >= limit:
                self._locked_until[key] = now + self.lockout_s
                times.clear()

    def success(self, name: str, address: str) -> None:
        """A login succeeded: forget the name's failures."""
        name_key, _ = self._keys(name, address)
        self._failures.pop(name_key, None)

    def _prune(self, now: float) -> None:
        for key in [k for k, t in self._failures.items() if not t or t[-1] <= now - self.window_s]:
            del self._failures[key]
        for key in [k for k, until in self._locked_until.items() if until <= now]:
            del self._locked_until[key]
        while len(self._failures) >= self.max_keys:  # still full: forget the oldest entries
            del self._failures[next(iter(self._failures))]
