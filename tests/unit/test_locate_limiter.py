"""The locate API's per-address post limit: a sliding minute, with an injected clock."""

from rallypoint.http.marti.locate import WINDOW_S, PostLimiter


def test_posts_per_address_in_a_sliding_minute() -> None:
    now = [0.0]
    limiter = PostLimiter(2, clock=lambda: now[0])
    assert limiter.allow("10.0.0.1") == 0
    now[0] = 10.0
    assert limiter.allow("10.0.0.1") == 0
    assert limiter.allow("10.0.0.1") == 50, "seconds until the first post leaves the window"
    assert limiter.allow("10.0.0.2") == 0, "each address has its own allowance"
    now[0] = WINDOW_S
    assert limiter.allow("10.0.0.1") == 0, "the first post left the window"
    assert limiter.allow("10.0.0.1") == 10
