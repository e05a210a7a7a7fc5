"""Example agent programs for the ``external`` kind (run inside the sandbox, not imported)."""
