"""The failed-login throttle of the enrollment port (issue 3 item 5), driven with explicit times."""

import pytest

from rallypoint.errors import ConfigError
from rallypoint.http.common.ratelimit import LoginThrottle, Verdict


def fail(throttle: LoginThrottle, user: str, address: str, now: float) -> Verdict:
    """One attempt whose password turns out wrong (nothing to take back)."""
    return throttle.attempt(user, address, now)


def test_allows_max_failures_then_refuses_with_retry_after() -> None:
    throttle = LoginThrottle(max_failures=3, window_s=60.0)
    for second in range(3):
        assert fail(throttle, "alice", "10.0.0.1", float(second)).allowed
    verdict = fail(throttle, "alice", "10.0.0.1", 10.0)
    assert not verdict.allowed
    assert verdict.retry_after_s == 50  # the oldest failure (t=0) leaves the window at t=60


def test_window_slides() -> None:
    throttle = LoginThrottle(max_failures=2, window_s=60.0)
    fail(throttle, "alice", "10.0.0.1", 0.0)
    fail(throttle, "alice", "10.0.0.1", 30.0)
    assert not throttle.attempt("alice", "10.0.0.1", 59.0).allowed
    assert throttle.attempt("alice", "10.0.0.1", 60.5).allowed  # t=0 expired; t=30 and t=60.5 now count
    assert not throttle.attempt("alice", "10.0.0.1", 61.0).allowed
    assert throttle.attempt("alice", "10.0.0.1", 90.5).allowed


def test_refused_attempts_are_not_counted_so_the_lock_ends() -> None:
    throttle = LoginThrottle(max_failures=2, window_s=60.0)
    fail(throttle, "alice", "10.0.0.1", 0.0)
    fail(throttle, "alice", "10.0.0.1", 1.0)
    for second in range(2, 60):
        assert not throttle.attempt("alice", "10.0.0.1", float(second)).allowed
    assert throttle.attempt("alice", "10.0.0.1", 60.0).allowed  # the first failure has left the window


def test_user_names_are_case_insensitive_and_limited_across_addresses() -> None:
    throttle = LoginThrottle(max_failures=2)
    fail(throttle, "Alice", "10.0.0.1", 0.0)
    fail(throttle, "ALICE", "10.0.0.2", 1.0)
    verdict = throttle.attempt("alice", "10.0.0.3", 2.0)
    assert not verdict.allowed
    assert verdict.limited_by == "user"
    assert throttle.attempt("bob", "10.0.0.3", 3.0).allowed


def test_address_is_limited_across_user_names() -> None:
    throttle = LoginThrottle(max_failures=2)
    fail(throttle, "alice", "10.0.0.1", 0.0)
    fail(throttle, "bob", "10.0.0.1", 1.0)
    verdict = throttle.attempt("carol", "10.0.0.1", 2.0)
    assert not verdict.allowed
    assert verdict.limited_by == "address"
    assert throttle.attempt("carol", "10.0.0.2", 3.0).allowed


def test_unreadable_credentials_count_against_the_address_only() -> None:
    throttle = LoginThrottle(max_failures=1)
    fail(throttle, "", "10.0.0.1", 0.0)
    assert throttle.attempt("alice", "10.0.0.2", 1.0).allowed
    assert throttle.attempt("alice", "10.0.0.1", 1.0).limited_by == "address"


def test_success_clears_the_user_but_not_the_address_failures_against_others() -> None:
    throttle = LoginThrottle(max_failures=3)
    fail(throttle, "bob", "10.0.0.1", 0.0)
    fail(throttle, "bob", "10.0.0.1", 1.0)
    assert throttle.attempt("mallory", "10.0.0.1", 2.0).allowed
    throttle.succeeded("mallory", "10.0.0.1", 2.0)  # the attacker logs in to an own account
    assert throttle.attempt("bob", "10.0.0.1", 3.0).allowed  # third failure from this address
    assert throttle.attempt("mallory", "10.0.0.1", 4.0).limited_by == "address"


def test_success_clears_the_users_own_failures() -> None:
    throttle = LoginThrottle(max_failures=2)
    fail(throttle, "alice", "10.0.0.1", 0.0)
    assert throttle.attempt("alice", "10.0.0.2", 1.0).allowed
    throttle.succeeded("alice", "10.0.0.2", 1.0)
    assert throttle.attempt("alice", "10.0.0.3", 2.0).allowed
    assert throttle.attempt("alice", "10.0.0.4", 3.0).allowed  # the failure at t=0 no longer counts


def test_concurrent_attempts_count_before_their_outcome_is_known() -> None:
    throttle = LoginThrottle(max_failures=2)
    assert throttle.attempt("alice", "10.0.0.1", 0.0).allowed
    assert throttle.attempt("alice", "10.0.0.1", 0.0).allowed
    assert not throttle.attempt("alice", "10.0.0.1", 0.0).allowed  # both hashes still running


def test_refusals_are_reported_once_per_window() -> None:
    throttle = LoginThrottle(max_failures=1, window_s=60.0)
    fail(throttle, "alice", "10.0.0.1", 0.0)
    reports = [throttle.attempt("alice", "10.0.0.1", float(t)).report for t in range(1, 60)]
    assert reports == [True] + [False] * 58
    fail(throttle, "alice", "10.0.0.1", 60.5)
    assert throttle.attempt("alice", "10.0.0.1", 61.0).report  # a new episode is reported again


def test_memory_is_bounded_oldest_forgotten_first() -> None:
    throttle = LoginThrottle(max_failures=1, max_tracked=4)
    fail(throttle, "alice", "10.0.0.1", 0.0)  # two keys
    for index in range(2, 5):
        fail(throttle, "", f"10.0.0.{index}", float(index))
    assert throttle.tracked() == 4
    assert throttle.attempt("", "10.0.0.1", 5.0).allowed  # the oldest key was evicted
    assert throttle.tracked() == 4
    assert not throttle.attempt("", "10.0.0.4", 6.0).allowed


def test_refuses_a_limit_below_one() -> None:
    with pytest.raises(ConfigError):
        LoginThrottle(max_failures=0)


def test_a_withdrawn_attempt_no_longer_counts_and_clears_nothing_else() -> None:
    throttle = LoginThrottle(max_failures=2)
    assert throttle.attempt("mission|mallory", "10.0.0.9", 1.0).allowed
    assert throttle.attempt("mission|mallory", "10.0.0.9", 2.0).allowed
    throttle.withdraw("mission|mallory", "10.0.0.9", 2.0)
    assert throttle.attempt("mission|mallory", "10.0.0.9", 3.0).allowed
    assert not throttle.attempt("mission|mallory", "10.0.0.9", 4.0).allowed  # 1.0 still counts
