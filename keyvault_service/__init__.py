"""KeyVault: tenants' LLM provider keys under envelope encryption, over mTLS gRPC.

- :mod:`.config`: settings from the environment.
- :mod:`.server`: :func:`~.server.serve_keyvault` and :func:`~.server.run_forever`.
- :mod:`.servicer`: the RPCs; :mod:`.keys`: what they do, without gRPC.
- :mod:`.envelope`: the stored format; :mod:`.kek`: key-encryption keys.
- :mod:`.storage` and :mod:`.migrate`: PostgreSQL.
- :mod:`.errors`: the error tree and its gRPC statuses.
"""
