"""An org's settings and its API keys, over HTTP (admin only)."""
