"""The Marti REST API for TAK clients (8443, 8080): version, contacts, CoT, packages, Data Sync."""
