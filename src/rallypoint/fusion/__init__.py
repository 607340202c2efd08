"""Track fusion: many feeds' reports of one object become one track with its provenance."""
