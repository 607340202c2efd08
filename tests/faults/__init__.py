"""Delivery under faults: every accepted directed message reaches its device once, in order."""
