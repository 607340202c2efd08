"""Refusals of unknown clients: a few audited in full per address and window, the rest summarised."""

from rallypoint.pki.refusals import RefusalSummary, Summary


def test_first_refusals_in_full_then_one_summary_per_address_and_window() -> None:
    summary = RefusalSummary(window_s=60.0, full_entries=2)
    decisions = [summary.record("handshake_refused", "10.0.0.9", "closed", now=float(t)) for t in range(5)]
    assert [full for full, _ in decisions] == [True, True, False, False, False]
    assert all(closed == [] for _, closed in decisions)
    assert summary.record("handshake_refused", "10.0.0.7", "timeout", now=10.0) == (True, [])
    assert summary.flush(59.0) == []
    assert summary.flush(60.0) == [Summary("handshake_refused", "10.0.0.9", 3, "closed=3", 0.0, 60.0)]
    assert summary.flush(70.0) == [], "an address with nothing suppressed writes no summary"
    assert summary.record("handshake_refused", "10.0.0.9", "closed", now=71.0) == (True, []), "a new window"


def test_reasons_are_summarised_most_frequent_first() -> None:
    summary = RefusalSummary(window_s=1.0, full_entries=0)
    for reason in ("closed", "timeout", "closed"):
        summary.record("request_refused", "h", reason, now=0.0)
    (closed,) = summary.flush(1.0)
    assert (closed.suppressed, closed.reasons) == (3, "closed=2,timeout=1")
