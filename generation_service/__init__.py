"""The Generation service: brand-checked marketing copy on the tenant's key.

Per request it validates the input, resolves whose key pays (``keys``),
streams every platform x variant through a provider adapter (``providers``,
``variants``, ``fanout``) and checks each finished variant against the
tenant's brand guide (``brand``). ``server.serve_generation`` runs it.
"""
