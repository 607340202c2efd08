"""UDP input and the multicast SA group, over real sockets on loopback."""

import asyncio
import socket
import struct
from dataclasses import replace

import pytest

from rallypoint.config import Settings
from rallypoint.cot.framing import encode_mesh
from rallypoint.cot.protobuf import event_to_proto
from rallypoint.cot.xml import parse_event
from rallypoint.server.server import Server
from tests.conftest import RunningServer, fixture_bytes, fresh, read_until
from tests.waiting import EVENT_TIMEOUT_S, eventually

GROUP = "239.2.3.1"


async def _subscribed_client(running: RunningServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await running.connect()
    await read_until(reader, lambda data: b"t-x-takp-v" in data)
    return reader, writer


async def test_udp_xml_and_mesh_reach_stream_clients(running_server: RunningServer) -> None:
    reader, writer = await _subscribed_client(running_server)
    assert running_server.ports.udp is not None
    pli = fresh(fixture_bytes("pli_atak_multicast.xml"))
    marker = fresh(fixture_bytes("marker_2525_atak.xml"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(pli, ("127.0.0.1", running_server.ports.udp))
        sock.sendto(encode_mesh(event_to_proto(parse_event(marker))), ("127.0.0.1", running_server.ports.udp))
        sock.sendto(b"\x00garbage", ("127.0.0.1", running_server.ports.udp))
    received = await read_until(reader, lambda data: data.count(b"</event>") >= 2)
    assert parse_event(pli).uid.encode() in received
    assert parse_event(marker).uid.encode() in received
    counters = running_server.server.context.counters
    await eventually(lambda: counters.get("rejected{reason=malformed_xml}") == 1)
    writer.close()


async def test_udp_input_never_takes_a_device_uid(running_server: RunningServer) -> None:
    assert running_server.ports.udp is not None
    pli = fresh(fixture_bytes("pli_atak_multicast.xml"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(pli, ("127.0.0.1", running_server.ports.udp))
    router = running_server.server.context.router
    await eventually(lambda: parse_event(pli).uid in router.cache)
    assert router.registry.by_uid(parse_event(pli).uid) is None


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _loopback_multicast_works(port: int) -> bool:
    """Whether this host delivers multicast on 127.0.0.1 (some sandboxes do not)."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
    ):
        try:
            receiver.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            receiver.bind(("", port))
            membership = struct.pack("4s4s", socket.inet_aton(GROUP), socket.inet_aton("127.0.0.1"))
            receiver.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            receiver.settimeout(1)
            sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
            sender.sendto(b"probe", (GROUP, port))
            return receiver.recv(16) == b"probe"
        except OSError:
            return False


async def test_multicast_in_and_out(server_settings: Settings) -> None:
    port = _free_udp_port()
    if not _loopback_multicast_works(port):
        pytest.skip("this host does not deliver multicast on the loopback interface")
    settings = replace(server_settings, multicast_enabled=True, multicast_group=GROUP, multicast_port=port)
    server = Server(settings)
    ports = await server.start()
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("", port))
        membership = struct.pack("4s4s", socket.inet_aton(GROUP), socket.inet_aton("127.0.0.1"))
        listener.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        listener.settimeout(EVENT_TIMEOUT_S)
        running = RunningServer(server, ports)
        reader, writer = await _subscribed_client(running)

        from_stream = fresh(fixture_bytes("pli_atak_civ4_taky.xml"))
        writer.write(from_stream)
        await writer.drain()
        datagram = await asyncio.get_running_loop().run_in_executor(None, listener.recv, 65536)
        assert parse_event(datagram).uid == parse_event(from_stream).uid

        from_mesh = fresh(fixture_bytes("pli_atak_multicast.xml"))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
            sender.sendto(from_mesh, (GROUP, port))
        received = await read_until(reader, lambda data: parse_event(from_mesh).uid.encode() in data)
        assert b"</event>" in received
        writer.close()
    finally:
        listener.close()
        await server.stop()
