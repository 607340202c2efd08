"""asyncio adapters: listeners, connections, write queues. Thin glue around the sans-I/O core."""
