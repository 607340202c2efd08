"""What the start-up log tells an operator: where devices connect, and how to enrol one.

A TAK server exists to serve devices on a network, and the first thing its operator needs is
the address and port to type into ATAK, and the command that makes a certificate package. The
guide is text built from the settings and the ports actually bound; it does no I/O.
"""

from typing import NamedTuple

from rallypoint.config import Settings
from rallypoint.hostnames import is_loopback_host, lan_addresses

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - the addresses that mean "every interface"


class BoundPorts(NamedTuple):
    """Where the listeners ended up (useful when the settings asked for port 0); None: off."""

    tcp: int
    udp: int | None
    tls: int | None = None
    enrollment: int | None = None
    api_tls: int | None = None
    api_plain: int | None = None
    web: int | None = None


def device_address(settings: Settings) -> str:
    """The address to give devices: the bound one, or for a wildcard bind the first LAN address."""
    if settings.host not in WILDCARD_HOSTS:
        return settings.host
    names = settings.hostname_list
    return next(iter(lan_addresses(names)), names[0] if names else "127.0.0.1")


def connection_guide(settings: Settings, ports: BoundPorts) -> list[str]:
    """Lines for the log: every open port with the address devices use, then the next steps."""
    address = device_address(settings)
    lines = [f"Rallypoint serving on {settings.host}; devices connect to {address}:"]
    lines.append(f"  plain CoT streaming   {address}:{ports.tcp}:tcp  (anonymous, group __ANON__)")
    if ports.udp is not None:
        lines.append(f"  CoT input over UDP    {address}:{ports.udp}:udp")
    if ports.tls is not None:
        lines.append(f"  secure CoT streaming  {address}:{ports.tls}:ssl  (client certificate from our CA)")
    if ports.enrollment is not None:
        lines.append(
            f"  certificate enrollment https://{address}:{ports.enrollment}/ (user name and password)"
        )
    if ports.api_tls is not None:
        lines.append(f"  Marti API (TLS)       https://{address}:{ports.api_tls}/Marti/")
    if ports.api_plain is not None:
        lines.append(f"  Marti API (plain)     http://{address}:{ports.api_plain}/Marti/  (data packages)")
    if ports.web is not None:
        scheme = "https" if settings.web_tls else "http"
        lines.append(f"  web command post      {scheme}://{address}:{ports.web}/")
    if ports.tls is not None or ports.enrollment is not None:
        lines.append(
            "  a device's package: `rallypoint user add NAME --group GROUP`, then "
            f"`rallypoint package NAME --host {address}` (or `--enrollment`), imported in ATAK/iTAK/WinTAK"
        )
    if is_loopback_host(settings.host):
        elsewhere = ", ".join(lan_addresses(settings.hostname_list)) or "none found"
        lines.append(
            f"  only this machine can connect: to serve a LAN set host = 0.0.0.0 (`--host 0.0.0.0`); "
            f"this machine's addresses: {elsewhere}"
        )
    return lines
