"""The composition root: the Server, the wiring of components and listeners, the persistence service."""
