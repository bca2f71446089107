"""The Generation service: brand-checked marketing copy on the tenant's key.

Per request (``generate``) it validates the input, loads the tenant's policy
(``policies``), works out the provider chain (``chain``), resolves whose key
pays (``keys``), reserves the estimate against the tenant's limits
(``limits``), streams every platform x variant concurrently (``fanout``,
``variants``, ``calls``, ``providers``), checks and repairs each against the
brand guide (``compliance``), and records every provider call with its usage
and cost (``tally``, ``usage``, ``pricing``, ``store``). ``server`` runs it.
"""
