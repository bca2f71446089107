"""Prompt templates, one per content type (data files)."""
