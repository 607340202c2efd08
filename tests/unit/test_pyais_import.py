"""Importing ``pyais.encode`` has no side effect that could stall a test process.

It was blamed for a stalled feed-runtime test (and the alias e2e test moved to a GeoJSON
gateway to avoid it). The facts: our AIS adapter's ``from pyais import NMEAMessage`` runs
``pyais/__init__.py``, which imports ``pyais.encode``, ``pyais.stream`` and ``pyais.tracker``
already, so every process that loads the adapter has imported the encoder; none of them
starts a thread or opens a socket at import. The stall was the feed runner's
``asyncio.wait_for`` swallowing a stop that arrived with the feed's bytes on 3.11 (fixed
with ``asyncio.timeout``), which any change of timing could expose.
"""

import subprocess
import sys

PROBE = """
import sys, threading
before = threading.active_count()
import rallypoint.fusion.feeds.ais
assert "pyais.encode" in sys.modules, "the adapter no longer imports the pyais package"
from pyais.encode import encode_dict
(sentence,) = encode_dict({"type": 1, "mmsi": 366053209, "lat": 37.8, "lon": -122.4})
assert threading.active_count() == before, "pyais started a thread"
print(sentence)
"""


def test_the_adapter_already_imports_the_encoder_and_no_thread_starts() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("!AIVDO,1,1,")
