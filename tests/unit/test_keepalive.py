"""The kernel is told to find half-open streaming connections within the configured bounds."""

import socket

from rallypoint.config import Settings
from rallypoint.transport.keepalive import tune_stream_socket


def test_keepalive_and_user_timeout_are_set_on_a_tcp_socket() -> None:
    settings = Settings(
        tcp_keepalive_idle_s=7, tcp_keepalive_interval_s=2, tcp_keepalive_probes=4, tcp_user_timeout_s=12.5
    )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        tune_stream_socket(sock, settings)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 7
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 2
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 4
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 12_500


def test_the_defaults_find_a_vanished_device_well_under_a_minute() -> None:
    settings = Settings()
    silent = settings.tcp_keepalive_idle_s + settings.tcp_keepalive_interval_s * settings.tcp_keepalive_probes
    assert silent < 60
    assert 0 < settings.tcp_user_timeout_s < 60


def test_a_unix_socket_is_left_alone() -> None:
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        tune_stream_socket(left, Settings())
        assert left.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0


def test_the_servers_own_keepalive_is_on_and_leaves_atak_clients_to_their_own_pings() -> None:
    interval = Settings().server_ping_interval_s
    assert 15.0 < interval < 60.0  # ATAK pings after 15 s without traffic from the server
