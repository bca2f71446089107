"""Code both services share: settings, TLS, logging and gRPC plumbing."""
