"""Run node-tak and node-cot (npm, pinned in tests/interop/node) against a test server.

Each call writes a plan for ``tests/interop/node/run.mjs`` and reads the one JSON document the
script prints. The Node packages come from ``npm install`` in that folder (``.ci/run`` does it);
without ``node_modules`` the tests that need them are skipped, saying so.
"""

import asyncio
import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests import waiting
from tests.conftest import Credentials, PkiFixture

NODE_DIR = Path(__file__).parent / "node"
RUNNER = NODE_DIR / "run.mjs"
NODE_TIMEOUT_S = waiting.EVENT_TIMEOUT_S
"""How long one script may run; it stops itself a little earlier and says why."""

requires_node_tak = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "@tak-ps" / "node-tak").is_dir(),
    reason="node-tak is not installed: run `npm install` in tests/interop/node (.ci/run does)",
)


def as_bytes(data: bytes) -> dict[str, str]:
    """An argument the script hands to node-tak as a Buffer."""
    return {"$bytes": base64.b64encode(data).decode()}


def from_bytes(value: Any) -> bytes:
    """Bytes node-tak answered (a stream body), as the script encoded them."""
    assert isinstance(value, dict), value
    assert "$bytes" in value, value
    return base64.b64decode(value["$bytes"])


def _write_plan(plan: dict[str, Any], work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    plan_file = work / f"plan-{len(list(work.iterdir()))}.json"
    plan_file.write_text(json.dumps({"timeoutMs": int(NODE_TIMEOUT_S * 1000) - 2000, **plan}))
    return plan_file


async def run_plan(plan: dict[str, Any], work: Path) -> dict[str, Any]:
    """Run the script with ``plan``; its JSON answer (a failed script fails the test)."""
    plan_file = _write_plan(plan, work)
    process = await asyncio.create_subprocess_exec(
        "node",
        str(RUNNER),
        str(plan_file),
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), NODE_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    lines = out.decode().strip().splitlines()
    assert lines, f"node printed nothing (exit {process.returncode}): {err.decode()[-2000:]}"
    answer: dict[str, Any] = json.loads(lines[-1])
    assert process.returncode == 0, f"{answer} / {err.decode()[-2000:]}"
    return answer


def certificate_plan(
    api: str, pki: PkiFixture, who: Credentials, calls: list[dict[str, Any]]
) -> dict[str, Any]:
    """node-tak's TAKAPI with ``APIAuthCertificate`` (the client certificate on every request)."""
    return {
        "api": api,
        "auth": "certificate",
        "cert": str(who.certificate),
        "key": str(who.key),
        "ca": str(pki.ca_file),
        "calls": calls,
    }


async def call_all(
    api: str, pki: PkiFixture, who: Credentials, calls: list[dict[str, Any]], work: Path
) -> dict[str, Any]:
    """The per-call answers of ``calls`` made by ``who`` with its certificate."""
    answer = await run_plan(certificate_plan(api, pki, who, calls), work)
    results: dict[str, Any] = answer["calls"]
    return results
