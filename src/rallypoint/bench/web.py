"""``rallypoint bench web``: the command post in headless Chromium with 1 000 contacts.

A server with the web port starts in this process; a load generator on its plain TCP port
reports ``--contacts`` positions, then the page (Debian's Chromium, software WebGL, driven by
Playwright) logs in and two figures are taken inside the page:

* **time to first render**: from the page's navigation start to the first frame in which
  MapLibre has drawn every contact (``queryRenderedFeatures``), login excluded;
* **frame rate while moving**: every contact reports a new position once a second, spread over
  the second, for ``--duration`` seconds; ``requestAnimationFrame`` callbacks are counted and
  the longest gap between frames is kept.

The figures depend on the machine: software rendering on a shared CPU is the worst case a
command-post laptop with a GPU does better than, and a busy machine moves them a lot: compare
two builds of the page (``--ui DIR``, a ``vite build --outDir DIR``) run after run, alternately.
"""

import argparse
import asyncio
import itertools
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rallypoint.bench.errors import BenchError
from rallypoint.config import Settings
from rallypoint.http.command_post.app import PACKAGED_UI
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import identity_path
from rallypoint.server.server import Server
from rallypoint.transport.loop import run_event_loop

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]
VIEWPORT = {"width": 1280, "height": 800}
TEST_HOOK_SCRIPT = "window.rallypointTestHook = true;"
"""Run before the page's own scripts: asks the command post to install ``window.rallypoint``
(webui/src/testhook.ts), which a production page does not have."""
DEFAULT_CONTACTS = 1000
DEFAULT_DURATION_S = 10.0
DEFAULT_MIN_FPS = 20.0
DEFAULT_MAX_FIRST_RENDER_MS = 5000.0
BATCHES_PER_SECOND = 10
"""Each second's reports go out in this many bursts, as a busy network delivers them."""
RENDER_TIMEOUT_S = 60.0
USER, PASSWORD = "bench", "bench password"
CENTER_LAT, CENTER_LON, SPREAD_DEG = 48.14, 11.58, 0.2

COUNT_FRAMES = """ms => new Promise(resolve => {
    const times = [];
    const start = performance.now();
    const step = now => {
        times.push(now);
        if (now - start < ms) requestAnimationFrame(step);
        else resolve(times);
    };
    requestAnimationFrame(step);
})"""
"""In the page: the timestamps of every frame drawn during ``ms`` milliseconds."""


@dataclass(frozen=True)
class Options:
    contacts: int
    duration_s: float
    min_fps: float
    max_first_render_ms: float
    ui: Path | None = None


def add_web_arguments(bench: argparse.ArgumentParser) -> None:
    """The options only ``bench web`` reads (``--duration`` and ``--json`` are shared)."""
    group = bench.add_argument_group("web (rallypoint bench web)")
    group.add_argument("--contacts", type=int, default=DEFAULT_CONTACTS, help="contacts on the map")
    group.add_argument(
        "--min-fps", type=float, default=DEFAULT_MIN_FPS, help="frame-rate target while moving"
    )
    group.add_argument(
        "--max-first-render-ms",
        type=float,
        default=DEFAULT_MAX_FIRST_RENDER_MS,
        help="time-to-first-render target (ms)",
    )
    group.add_argument(
        "--ui",
        type=Path,
        default=None,
        metavar="DIR",
        help="serve this build of the page instead of the packaged one (to compare builds)",
    )


def position_xml(index: int, tick: int) -> bytes:
    """Contact ``index`` on a small circle of its own, one step further each ``tick``."""
    row, column = divmod(index, 40)
    lat = CENTER_LAT - SPREAD_DEG / 2 + SPREAD_DEG * row / 40
    lon = CENTER_LON - SPREAD_DEG / 2 + SPREAD_DEG * column / 40
    angle = tick * 0.3
    lat += 0.001 * math.sin(angle)
    lon += 0.001 * math.cos(angle)
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + "Z"
    stale = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now + 600)) + "Z"
    kind = "a-h-G-U-C-I" if index % 5 == 0 else "a-f-G-U-C"
    return (
        f'<event version="2.0" uid="bench-{index}" type="{kind}" how="m-g" time="{stamp}" start="{stamp}"'
        f' stale="{stale}"><point lat="{lat:.6f}" lon="{lon:.6f}" hae="0" ce="10" le="10"/><detail>'
        f'<contact callsign="U{index}"/><__group name="Team {index % 8}" role="Team Member"/>'
        f'<track course="{(math.degrees(angle) + 90) % 360:.0f}" speed="2"/></detail></event>'
    ).encode()


async def report_all(writer: asyncio.StreamWriter, count: int, tick: int, spread_s: float) -> None:
    """Every contact's position once, in bursts over ``spread_s`` seconds."""
    per_batch = max(1, math.ceil(count / BATCHES_PER_SECOND))
    for start in range(0, count, per_batch):
        writer.write(b"".join(position_xml(i, tick) for i in range(start, min(count, start + per_batch))))
        await writer.drain()
        if spread_s > 0:
            await asyncio.sleep(spread_s / BATCHES_PER_SECOND)


async def measure(options: Options) -> dict[str, Any]:
    """Run the page against an in-process server; the figures as a JSON-ready document."""
    from playwright.async_api import async_playwright  # the bench extra; imported only here

    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(
            data_dir=Path(directory) / "data",
            tcp_port=0,
            udp_port=None,
            tls_port=None,
            enrollment_port=None,
            api_tls_port=None,
            api_plain_port=None,
            web_port=0,
            web_assets_dir=str(options.ui) if options.ui is not None else "",
        )
        settings.data_dir.mkdir(parents=True)
        with IdentityStore(identity_path(settings.data_dir)) as identities:
            identities.add_user(USER, PASSWORD, ("__ANON__",))
        server = Server(settings)
        ports = await server.start()
        _, writer = await asyncio.open_connection("127.0.0.1", ports.tcp)
        try:
            await report_all(writer, options.contacts, 0, 0)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
                )
                try:
                    page = await browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
                    await page.add_init_script(TEST_HOOK_SCRIPT)
                    return await _drive(page, ports.web, writer, options)
                finally:
                    await browser.close()
        finally:
            writer.close()
            await server.stop()


async def _drive(
    page: Any, port: int | None, writer: asyncio.StreamWriter, options: Options
) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/"
    await page.goto(url)
    await page.fill("input[name=username]", USER)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await _until(page, "!!window.rallypoint")
    await page.reload()  # logged in: the measured load is the command post's own
    await _until(page, "!!window.rallypoint")
    first_render_ms = await asyncio.wait_for(
        page.evaluate("n => window.rallypoint.waitForRendered(n)", options.contacts), RENDER_TIMEOUT_S
    )
    held = await page.evaluate("window.rallypoint.contactCount()")
    frames = asyncio.ensure_future(page.evaluate(COUNT_FRAMES, options.duration_s * 1000))
    ticks = math.ceil(options.duration_s)
    for tick in range(1, ticks + 1):
        await report_all(writer, options.contacts, tick, 1.0)
    times: list[float] = await asyncio.wait_for(frames, options.duration_s + RENDER_TIMEOUT_S)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    elapsed_s = (times[-1] - times[0]) / 1000 if len(times) > 1 else 0.0
    return {
        "contacts": options.contacts,
        "contacts_held": held,
        "time_to_first_render_ms": round(first_render_ms, 1),
        "moving_seconds": round(elapsed_s, 2),
        "frames": len(times),
        "fps": round((len(times) - 1) / elapsed_s, 1) if elapsed_s > 0 else 0.0,
        "longest_frame_ms": round(max(gaps, default=0.0), 1),
        "renderer": "Chromium headless, SwiftShader (software WebGL)",
    }


async def _until(page: Any, expression: str) -> None:
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while not await page.evaluate(expression):
        if time.monotonic() > deadline:
            raise BenchError(f"the page did not get ready: {expression}")
        await asyncio.sleep(0.05)


def targets_met(document: dict[str, Any], options: Options) -> dict[str, bool]:
    return {
        "first_render": document["time_to_first_render_ms"] <= options.max_first_render_ms,
        "fps": document["fps"] >= options.min_fps,
    }


def run_web_bench(args: argparse.Namespace) -> int:
    """``rallypoint bench web`` (see the module docstring)."""
    options = Options(
        contacts=args.contacts,
        duration_s=args.duration or DEFAULT_DURATION_S,
        min_fps=args.min_fps,
        max_first_render_ms=args.max_first_render_ms,
        ui=args.ui,
    )
    problem = _unavailable(options)
    if problem:
        print(f"rallypoint bench web: {problem}", file=sys.stderr)
        return 2
    try:
        document = run_event_loop(measure(options))
    except (BenchError, OSError, TimeoutError) as exc:
        print(f"rallypoint bench web: {exc}", file=sys.stderr)
        return 2
    met = targets_met(document, options)
    if args.json:
        print(json.dumps({**document, "targets": met}, indent=2))
    else:
        print(
            f"{document['contacts']} contacts: first render {document['time_to_first_render_ms']:.0f} ms;"
            f" moving once a second: {document['fps']:.1f} frames/s over {document['moving_seconds']:.1f} s,"
            f" longest frame {document['longest_frame_ms']:.0f} ms ({document['renderer']})"
        )
    return 0 if all(met.values()) else 1


def _unavailable(options: Options) -> str | None:
    if options.contacts < 1 or options.duration_s <= 0:
        return "--contacts and --duration must be positive"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is absent (apt-get install chromium)"
    ui = options.ui if options.ui is not None else PACKAGED_UI
    if not (ui / "index.html").is_file():
        return f"no built web UI in {ui} (make web)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "needs Playwright: pip install 'rallypoint[bench]'"
    return None
