"""Identities: the built-in certificate authority, users and groups, onboarding packages, audit log.

``authority`` issues and signs certificates and keeps the CRL; ``identities`` stores users,
their groups and the certificates issued to them; ``audit`` keeps the hash-chained log;
``package`` writes the data packages TAK clients import; ``commands`` is the admin command line.
Nothing here does network I/O: the TLS listeners and the enrollment API use these modules.
"""
