"""The start-up guide and the machine's own names: what an operator reads to connect a device."""

import ipaddress
from pathlib import Path

from rallypoint.config import Settings
from rallypoint.hostnames import LOOPBACK_NAMES, is_loopback_host, lan_addresses, local_names
from rallypoint.server.guide import BoundPorts, connection_guide, device_address

ALL_PORTS = BoundPorts(8087, 8087, 8089, 8446, 8443, 8080, 8000)


def test_the_machine_names_itself_and_loopback_last() -> None:
    names = local_names()
    assert names[-2:] == LOOPBACK_NAMES
    assert len(set(names)) == len(names)
    for address in lan_addresses(names):
        assert not ipaddress.ip_address(address).is_loopback


def test_empty_hostnames_mean_the_machines_own_names() -> None:
    assert Settings(hostnames="").hostname_list == list(local_names())
    assert Settings(hostnames=" tak.example.org, 10.0.0.5 ,").hostname_list == ["tak.example.org", "10.0.0.5"]


def test_loopback_hosts() -> None:
    assert is_loopback_host("127.0.0.1")
    assert is_loopback_host("::1")
    assert is_loopback_host("localhost")
    assert not is_loopback_host("0.0.0.0")
    assert not is_loopback_host("10.0.0.5")


def test_a_wildcard_bind_gives_devices_the_first_lan_address() -> None:
    settings = Settings(host="0.0.0.0", hostnames="tak.example.org,10.0.0.5,127.0.0.1")
    assert device_address(settings) == "10.0.0.5"
    assert device_address(Settings(host="0.0.0.0", hostnames="tak.example.org")) == "tak.example.org"
    assert device_address(Settings(host="10.1.2.3", hostnames="10.0.0.5")) == "10.1.2.3"


def test_the_guide_names_every_open_port_and_the_package_command() -> None:
    settings = Settings(host="0.0.0.0", hostnames="10.0.0.5", data_dir=Path("d"))
    text = "\n".join(connection_guide(settings, ALL_PORTS))
    assert "devices connect to 10.0.0.5" in text
    for fragment in (
        "10.0.0.5:8087:tcp",
        "10.0.0.5:8087:udp",
        "10.0.0.5:8089:ssl",
        "https://10.0.0.5:8446/",
        "https://10.0.0.5:8443/Marti/",
        "http://10.0.0.5:8080/Marti/",
        "http://10.0.0.5:8000/",
        "`rallypoint package NAME --host 10.0.0.5`",
    ):
        assert fragment in text
    assert "only this machine" not in text


def test_a_loopback_bind_says_how_to_serve_a_lan() -> None:
    settings = Settings(host="127.0.0.1", hostnames="10.0.0.5,localhost")
    lines = connection_guide(settings, BoundPorts(9000, None, web=None))
    text = "\n".join(lines)
    assert "127.0.0.1:9000:tcp" in text
    assert ":udp" not in text
    assert "ssl" not in text
    assert "rallypoint package" not in text  # no certificate port open: no package to make
    assert "only this machine can connect" in lines[-1]
    assert "host = 0.0.0.0" in lines[-1]
    assert "10.0.0.5" in lines[-1]
