"""Site federation: what crosses between two independent Rallypoint sites (see docs/federation.md)."""
