"""Offer rate limiting: a flood from one client is refused, others are unaffected."""

from __future__ import annotations

from rtcc.playback.ratelimit import OfferRateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_offers_are_refused() -> None:
    limiter = OfferRateLimiter(rate=5, burst=20, clock=FakeClock())
    results = [limiter.allow("ana") for _ in range(25)]
    assert results == [True] * 20 + [False] * 5
    assert limiter.retry_after("ana") > 0


def test_a_thousand_offers_in_one_second_from_one_client_leave_others_unaffected() -> None:
    clock = FakeClock()
    limiter = OfferRateLimiter(rate=5, burst=20, clock=clock)
    allowed = 0
    for i in range(1000):
        clock.now = i / 1000
        allowed += limiter.allow("flooder")
    assert allowed <= 20 + 5
    assert all(limiter.allow("ben") for _ in range(20))


def test_tokens_come_back_with_time() -> None:
    clock = FakeClock()
    limiter = OfferRateLimiter(rate=5, burst=2, clock=clock)
    assert limiter.allow("ana") and limiter.allow("ana")
    assert not limiter.allow("ana")
    clock.now = 0.2
    assert limiter.allow("ana")


def test_memory_is_bounded_by_forgetting_the_least_recent_clients() -> None:
    limiter = OfferRateLimiter(rate=1, burst=1, clock=FakeClock(), max_clients=3)
    for name in ["a", "b", "c", "d"]:
        limiter.allow(name)
    assert limiter.allow("a")  # forgotten, so a fresh bucket
    assert not limiter.allow("d")
