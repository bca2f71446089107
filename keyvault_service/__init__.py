"""KeyVault: tenants' LLM provider keys under envelope encryption, over mTLS gRPC.

- :mod:`.config`: settings from the environment.
- :mod:`.server`: :func:`~.server.serve_keyvault` and :func:`~.server.run_forever`.
- :mod:`.servicer`: the RPCs and who may call them; :mod:`.messages` converts.
- :mod:`.keys`: what the key RPCs do, without gRPC; :mod:`.cache` keeps
  unwrapped data keys briefly, :mod:`.invalidation` tells replicas apart.
- :mod:`.rotation`: KEK rotation, re-wrap and retirement (also ``byok``'s
  rotation command); :mod:`.shredding`: tenant deletion.
- :mod:`.envelope`: the stored format; :mod:`.kek`: key-encryption keys,
  including the Vault client and its token lifecycle.
- :mod:`.storage`, :mod:`.audit`, :mod:`.database` and :mod:`.migrate`:
  PostgreSQL.
- :mod:`.errors`: the error tree and its gRPC statuses.
"""
