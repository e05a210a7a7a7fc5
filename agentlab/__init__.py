"""agentlab: spend inference compute well.

The curated public API; everything else is importable but not promised.
"""

from agentlab.errors import AgentlabError
from agentlab.store import Store, open_store

__version__ = "0.1.0"

__all__ = ["AgentlabError", "Store", "__version__", "open_store"]
