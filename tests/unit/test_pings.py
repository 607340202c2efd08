"""The server's keepalive is due only after silence both ways, once per interval of silence."""

from rallypoint.transport.pings import PingSchedule


def test_a_keepalive_is_due_after_the_interval_of_silence_and_then_not_again_at_once() -> None:
    schedule = PingSchedule(10.0, now=100.0)
    assert not schedule.due(109.9)
    assert schedule.due(110.0)
    assert not schedule.due(110.0)  # the keepalive itself is traffic
    assert not schedule.due(119.9)
    assert schedule.due(120.0)


def test_traffic_either_way_postpones_it() -> None:
    schedule = PingSchedule(10.0, now=100.0)
    schedule.traffic(105.0)
    assert not schedule.due(114.0)
    assert schedule.due(115.0)


def test_traffic_reported_late_never_moves_the_last_traffic_back() -> None:
    schedule = PingSchedule(10.0, now=100.0)
    schedule.traffic(108.0)
    schedule.traffic(104.0)
    assert not schedule.due(117.0)
    assert schedule.due(118.0)


def test_an_interval_of_zero_never_pings() -> None:
    schedule = PingSchedule(0.0, now=100.0)
    assert not schedule.due(1e9)
