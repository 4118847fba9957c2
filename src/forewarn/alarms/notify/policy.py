"""When to try a failed delivery again, and when to stop trying.

Exponential backoff keeps a dead receiver from being hammered while it is down and still
reaches it soon after it comes back; the cap keeps the gap between tries bounded (a receiver
back after a night is tried within the hour); giving up after a day or a number of tries keeps
the outbox from growing without end for a receiver that is gone for good.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DeliveryPolicy"]


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """The ``[delivery]`` table of the notification file, with its defaults."""

    backoff_initial_s: float = 5.0
    backoff_max_s: float = 3600.0
    give_up_after_s: float = 86400.0
    max_attempts: int = 100
    per_channel_concurrency: int = 2

    def delay_s(self, attempts: int) -> float:
        """Wait after the ``attempts``-th failed attempt: 5 s, 10 s, 20 s ... up to the cap."""
        exponent = min(max(attempts - 1, 0), 62)  # 2**62 s is beyond any cap
        return float(min(self.backoff_initial_s * 2**exponent, self.backoff_max_s))

    def next_attempt_ms(self, attempts: int, created_ms: int, now_ms: int) -> int | None:
        """When to try again after ``attempts`` failed attempts; None to give up.

        It gives up when the attempts are used up or when the next try would come after
        ``give_up_after_s`` from the notice's creation (a notice that late no longer helps).
        """
        if attempts >= self.max_attempts:
            return None
        at = now_ms + round(self.delay_s(attempts) * 1000)
        if at - created_ms > self.give_up_after_s * 1000:
            return None
        return at
