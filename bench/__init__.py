"""``byok-bench``: what KeyVault and Generation add, measured side by side.

Every comparison runs both sides in one harness run, interleaved request by
request (or round by round for concurrent streams), and is reported as a
ratio, because a shared 2-core machine is too noisy for absolute targets.
The servers (KeyVault, Generation, the provider stand-in, a bare gRPC echo,
OpenBao, the LiteLLM proxy) each run in a process of their own, so their
resident memory is their own; the load generator runs in another process,
so it never shares a server's event loop.

Layout: :mod:`bench.cli` parses options and runs :mod:`bench.scenarios`;
:mod:`bench.stack` starts the servers; :mod:`bench.loadgen` is what runs in
the load process; :mod:`bench.goals` judges the figures against targets.
"""
