"""PyPI ``pytak`` as a test client: a running ``CLITool`` on a config section, and its RX queue.

pytak is driven the way its own CLI drives it: a ``CLITool`` built from a config section,
whose TX worker writes what is put on ``tx_queue`` and whose RX worker puts every
``...</event>`` it reads on ``rx_queue``. Shared by the interop, TLS, missions and web tests.
"""

import asyncio
import contextlib
import warnings
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Mapping
from configparser import ConfigParser
from pathlib import Path

from tests.interop.clients import DEFAULT_TIMEOUT, eventually

with warnings.catch_warnings():
    # pytak warns at import about optional extras (cryptography, aiohttp) that plain TCP does not use.
    warnings.filterwarnings("ignore", message=r"The '\w+' package is required", category=UserWarning)
    import pytak

TIMEOUT = DEFAULT_TIMEOUT

Predicate = Callable[[ET.Element], bool]


@contextlib.asynccontextmanager
async def running_pytak(name: str, config: Mapping[str, str]) -> AsyncIterator[pytak.CLITool]:
    """A running ``CLITool`` on the config section ``name`` = ``config``; stopped on exit."""
    parser = ConfigParser(interpolation=None)
    parser[name] = dict(config)
    tool = pytak.CLITool(parser[name])
    await tool.setup()
    writers = [worker.writer for worker in tool.tasks if isinstance(worker, pytak.TXWorker)]
    runner = asyncio.create_task(tool.run())
    try:
        await eventually(lambda: tool.running_tasks)
        yield tool
    finally:
        for task in list(tool.running_tasks):
            task.cancel()
        await asyncio.wait_for(runner, TIMEOUT)  # run() returns once its workers are cancelled
        for writer in writers:
            writer.close()
            with contextlib.suppress(OSError):  # a TLS close races with data still arriving
                await writer.wait_closed()


def pytak_client(
    port: int, name: str, *, tak_proto: int = 0, hello: bool = False
) -> contextlib.AbstractAsyncContextManager[pytak.CLITool]:
    """pytak on ``tcp://127.0.0.1:<port>`` (the anonymous group)."""
    config = {"COT_URL": f"tcp://127.0.0.1:{port}", "TAK_PROTO": str(tak_proto), "COT_HOST_ID": name}
    if not hello:
        config["PYTAK_NO_HELLO"] = "1"
    return running_pytak(name, config)


def pytak_tls_client(
    port: int, ca_file: Path, certificate: Path, key: Path
) -> contextlib.AbstractAsyncContextManager[pytak.CLITool]:
    """pytak on ``tls://127.0.0.1:<port>`` with a certificate and key (PEM), as its docs configure it."""
    config = {
        "COT_URL": f"tls://127.0.0.1:{port}",
        "PYTAK_TLS_CLIENT_CERT": str(certificate),
        "PYTAK_TLS_CLIENT_KEY": str(key),
        "PYTAK_TLS_CLIENT_CAFILE": str(ca_file),
        "PYTAK_NO_HELLO": "1",
    }
    return running_pytak("pytak-tls", config)


async def pytak_until(tool: pytak.CLITool, predicate: Predicate) -> list[ET.Element]:
    """Events from pytak's RX queue up to and including the first one ``predicate`` accepts."""
    seen: list[ET.Element] = []
    async with asyncio.timeout(TIMEOUT):
        while not seen or not predicate(seen[-1]):
            data = await tool.rx_queue.get()
            seen.append(ET.fromstring(data.strip()))
    return seen


def uid_is(uid: str) -> Predicate:
    return lambda element: element.get("uid") == uid


def pytak_pli(uid: str, callsign: str, lat: float = 40.7128, lon: float = -74.006) -> bytes:
    """A position report the way pytak applications make them (``gen_cot``)."""
    data = pytak.gen_cot(lat=lat, lon=lon, uid=uid, cot_type="a-f-G-U-C", callsign=callsign, stale=120)
    assert isinstance(data, bytes)
    return data
