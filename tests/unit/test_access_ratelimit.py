"""Login rate limiting with a clock the test moves."""

from __future__ import annotations

import pytest

from forewarn.access.ratelimit import LoginRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_five_failures_in_five_minutes_lock_the_name_for_fifteen(clock: Clock) -> None:
    limiter = LoginRateLimiter(clock=clock)
    for i in range(4):
        limiter.failure("zhang", f"10.0.0.{i}")
        clock.now += 30
    assert limiter.allowed("zhang", "10.0.0.9")
    limiter.failure("Zhang", "10.0.0.5")  # names are compared case-insensitively
    assert not limiter.allowed("zhang", "10.0.0.9")  # from any address
    assert limiter.retry_after("zhang", "10.0.0.9") == pytest.approx(900)
    assert limiter.allowed("li", "10.0.0.9")  # other names are not locked
    clock.now += 899
    assert not limiter.allowed("zhang", "10.0.0.9")
    clock.now += 1
    assert limiter.allowed("zhang", "10.0.0.9")


def test_failures_outside_the_window_do_not_count(clock: Clock) -> None:
    limiter = LoginRateLimiter(clock=clock)
    for _ in range(20):
        limiter.failure("wang", "10.0.0.1")
        clock.now += 76  # at most 4 failures in any 5 minutes
        assert limiter.allowed("wang", "10.0.0.2")


def test_a_success_clears_the_names_failures(clock: Clock) -> None:
    limiter = LoginRateLimiter(clock=clock)
    for _ in range(4):
        limiter.failure("zhao", "10.0.0.1")
    limiter.success("zhao", "10.0.0.1")
    limiter.failure("zhao", "10.0.0.1")
    assert limiter.allowed("zhao", "10.0.0.1")


def test_one_address_guessing_many_names_is_locked(clock: Clock) -> None:
    limiter = LoginRateLimiter(max_failures_per_address=20, clock=clock)
    for i in range(19):
        limiter.failure(f"user{i}", "203.0.113.7")
    assert limiter.allowed("someone", "203.0.113.7")
    limiter.failure("user19", "203.0.113.7")
    assert not limiter.allowed("someone", "203.0.113.7")
    assert limiter.allowed("someone", "203.0.113.8")
    limiter.success("someone", "203.0.113.7")  # a success elsewhere does not unlock the address
    assert not limiter.allowed("anyone", "203.0.113.7")
    clock.now += 900
    assert limiter.allowed("anyone", "203.0.113.7")


def test_memory_stays_bounded(clock: Clock) -> None:
    limiter = LoginRateLimiter(clock=clock, max_keys=50)
    for i in range(500):
        limiter.failure(f"n{i}", f"a{i}")
    assert len(limiter._failures) <= 50
