"""Feed adapters: ADS-B, AIS, APRS, CoT gateways and GeoJSON turned into fusion reports.

Each adapter is a sans-I/O decoder (bytes, lines or JSON in, :class:`~rallypoint.fusion.report.Report`
values and rejection reasons out, time passed in) plus thin asyncio glue that owns one
connection and is restarted with back-off when it dies.
"""
