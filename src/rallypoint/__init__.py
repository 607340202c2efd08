"""Rallypoint: a field-operations command server that speaks the TAK protocols."""

__version__ = "0.1.0"
