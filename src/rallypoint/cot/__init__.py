"""Sans-I/O Cursor-on-Target: event model, XML and protobuf codecs, framers, negotiation.

Nothing in this package touches sockets, asyncio or the clock: time is always an argument.
"""
