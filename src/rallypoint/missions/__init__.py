"""Missions (TAK Data Sync), objectives and checklists: planned work kept in sync on every device.

State lives in memory and is persisted as an append-only journal in the store (one stream per
mission, ``mission:<guid>``); the journal's ids are the order changes were accepted in, and
replaying them at start rebuilds the same state. :mod:`rallypoint.missions.book` is the pure
state (no I/O, time passed in); :mod:`rallypoint.missions.service` is the server component
that journals, notifies subscribers and watches routed traffic.
"""
