"""Certificate enrollment for TAK clients (port 8446)."""
