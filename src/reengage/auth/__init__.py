"""API keys, roles and org scoping."""
