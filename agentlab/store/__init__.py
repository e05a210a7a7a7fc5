"""The SQL result store (SQLite by default, Postgres by URL)."""

from agentlab.store.db import DEFAULT_URL, Store, normalise_url, open_store

__all__ = ["DEFAULT_URL", "Store", "normalise_url", "open_store"]
