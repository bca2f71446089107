"""Fixtures and helpers that start real servers for the tests."""
