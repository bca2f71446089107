"""The local development stack: everything ``byok demo`` and ``byok up`` start.

With nothing configured it runs on one machine without network: an embedded
PostgreSQL, a local key-encryption keyring, development certificates and a
small local model. Each piece can be replaced by a real one through the
environment (see README.md).
"""
