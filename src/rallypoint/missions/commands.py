"""``rallypoint mission …`` and ``rallypoint objective …``: the command post from a terminal.

They talk to a running server's API with httpx: ``--url http://127.0.0.1:8080`` (the plain
port, anonymous) or ``--url https://host:8443 --cert me.pem --key me.key --ca ca.pem`` (mutual
TLS, acting as the certificate's user). ``--uid`` names the client uid to act as (a mission's
creator, a subscriber). Output is the server's JSON; an HTTP error prints its message and
exits with status 1, a connection failure with status 2.
"""

import argparse
import json
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from rallypoint.cot.timefmt import parse_time
from rallypoint.errors import InvalidEvent

MISSION_COMMANDS = frozenset({"mission", "objective"})
DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 10.0

Handler = Callable[[httpx.Client, argparse.Namespace], httpx.Response]


def add_mission_parsers(commands: Any) -> None:
    """Register ``mission`` and ``objective`` on the top-level sub-command action."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=DEFAULT_URL, help=f"server API (default {DEFAULT_URL})")
    common.add_argument("--cert", type=Path, help="client certificate (PEM) for https")
    common.add_argument("--key", type=Path, help="its private key (PEM)")
    common.add_argument("--ca", type=Path, help="CA certificate that signed the server's")
    common.add_argument("--uid", help="client uid to act as (default: your user name)")

    def leaf(group: Any, name: str, handler: Handler, text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = group.add_parser(
            name, parents=[common], help=text, description=text
        )
        parser.set_defaults(mission_handler=handler)
        return parser

    mission = commands.add_parser("mission", help="missions (Data Sync)").add_subparsers(
        dest="action", required=True
    )
    create = leaf(mission, "create", _create, "create a mission")
    create.add_argument("name")
    create.add_argument("--description", default="")
    create.add_argument("--group", action="append", help="group that may see it (repeat; default: yours)")
    create.add_argument("--password", help="protect it with a password")
    leaf(mission, "list", _list, "missions you can see")
    show = leaf(mission, "show", _show, "a mission with its objectives, checklists and change log")
    show.add_argument("name")
    show.add_argument("--password")
    add = leaf(mission, "add", _add, "add data packages (by hash) or map items (by uid) to a mission")
    add.add_argument("name")
    add.add_argument("--hash", action="append", default=[], help="data package SHA-256 (repeat)")
    add.add_argument("--item", action="append", default=[], help="CoT uid of a map item (repeat)")
    subscribe = leaf(mission, "subscribe", _subscribe, "subscribe a device (--uid) to a mission")
    subscribe.add_argument("name")
    subscribe.add_argument("--password")

    objective = commands.add_parser("objective", help="objectives on missions").add_subparsers(
        dest="action", required=True
    )
    designate = leaf(objective, "designate", _designate, "designate an objective on a mission")
    designate.add_argument("mission")
    designate.add_argument("--title", required=True)
    designate.add_argument("--description", default="")
    designate.add_argument("--priority", default="normal", choices=["low", "normal", "high", "critical"])
    designate.add_argument("--due", help="ISO 8601 time or milliseconds since the epoch")
    where = designate.add_mutually_exclusive_group(required=True)
    where.add_argument("--point", help="LAT,LON")
    where.add_argument("--area", help="LAT,LON;LAT,LON;LAT,LON[;…] (three or more vertices)")
    designate.add_argument("--assignee", help="team, callsign or device uid")
    assign = leaf(objective, "assign", _assign, "assign an objective to a team, callsign or uid")
    assign.add_argument("id")
    assign.add_argument("assignee")
    status = leaf(objective, "status", _status, "move an objective to a new state")
    status.add_argument("id")
    status.add_argument("state", choices=["acknowledged", "in_progress", "done", "cancelled"])


def run_mission_command(args: argparse.Namespace) -> int:
    """Run the parsed command against the server; the exit status."""
    handler: Handler = args.mission_handler
    try:
        with _client(args) as client:
            response = handler(client, args)
    except httpx.HTTPError as exc:
        print(f"rallypoint: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"rallypoint: {exc}", file=sys.stderr)
        return 2
    if response.is_error:
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        print(f"rallypoint: {response.status_code} {message}", file=sys.stderr)
        return 1
    print(json.dumps(response.json(), indent=2, sort_keys=True))
    return 0


def _client(args: argparse.Namespace) -> httpx.Client:
    verify: ssl.SSLContext | bool = True
    if args.url.startswith("https://"):
        context = ssl.create_default_context(cafile=str(args.ca) if args.ca else None)
        if args.cert:
            context.load_cert_chain(args.cert, args.key)
        verify = context
    return httpx.Client(base_url=args.url, verify=verify, timeout=TIMEOUT_S)


def _with_uid(args: argparse.Namespace, body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "uid": args.uid} if args.uid else body


def _create(client: httpx.Client, args: argparse.Namespace) -> httpx.Response:
    body: dict[str, Any] = {"name": args.name, "description": args.description}
    if args.group:
        body["groups"] = args.group
    if args.password:
        body["password"] = args.password
    return client.post("/api/missions", json=_with_uid(args, body))


def _list(client: httpx.Client, _args: argparse.Namespace) -> httpx.Response:
    return client.get("/api/missions")


def _show(client: httpx.Client, args: argparse.Namespace) -> httpx.Response:
    params = {"password": args.password} if args.password else {}
    return client.get(f"/api/missions/{args.name}", params=params)


def _add(client: httpx.Client, args: argparse.Namespace) -> httpx.Response:
    params = {"creatorUid": args.uid} if args.uid else {}
    body = {"hashes": args.hash, "uids": args.item}
    return client.put(f"/Marti/api/missions/{args.name}/contents", params=params, json=body)


def _subscribe(client: httpx.Client, args: argparse.Namespace) -> httpx.Response:
    body = {"password": args.password} if args.password else {}
    return client.post(f"/api/missions/{args.name}/subscribe", json=_with_uid(args, body))


def _designate(client: httpx.Client, args: argparse.Namespace) -> httpx.Response:
    body: dict[str, Any] = {
        "title": args.title,
        "description": args.description,
        "priority": args.priority,
        "geometry": geometry(args.point, args.area),
    }
    if args.due:
        body["due"] = due_millis(args.due)
    if args.assignee:
        body["assignee"] = args.assignee
    return client.post(f"/api/missions/{args.mission}/objectives", json=_with_uid(args, body))


def _assign(client: httpx.Client, args: argparse.Namespace) -> httpx.Response:
    return client.post(f"/api/objectives/{args.id}/assign", json=_with_uid(args, {"assignee": args.assignee}))


def _status(client: httpx.Client, args: argparse.Namespace) -> httpx.Response:
    return client.post(f"/api/objectives/{args.id}/status", json=_with_uid(args, {"state": args.state}))


def geometry(point: str | None, area: str | None) -> dict[str, Any]:
    """GeoJSON from ``LAT,LON`` or ``LAT,LON;LAT,LON;…`` (ValueError if malformed)."""
    if point is not None:
        lat, lon = _pair(point)
        return {"type": "Point", "coordinates": [lon, lat]}
    vertices = [_pair(text) for text in (area or "").split(";") if text.strip()]
    if len(vertices) < 3:
        raise ValueError("an area needs at least three LAT,LON vertices")
    ring = [[lon, lat] for lat, lon in vertices]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _pair(text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not LAT,LON")
    return float(parts[0]), float(parts[1])


def due_millis(text: str) -> int:
    """Milliseconds since the epoch from digits or an ISO 8601 time."""
    if text.isdigit():
        return int(text)
    try:
        return parse_time(text)
    except InvalidEvent as exc:
        raise ValueError(f"--due: {exc}") from exc
