"""asyncio adapters: streaming connections, TLS handshakes, UDP, write queues, embedded uvicorn.

Thin glue around the sans-I/O core. Applications and callbacks are passed in: nothing here
imports the HTTP apps or the server that wires them.
"""
