"""Cluster mode: nodes share routed events over NATS JetStream and keep one PostgreSQL store."""
