"""Read-only views of the result store: ``agentlab view`` (a local web app) and the static report.

``queries`` and ``pages`` turn plain, indexed SQL into JSON-ready dicts; ``server`` serves them
with the files in ``static/`` (plain JS and CSS, no build step); ``report`` writes the same
data as JSON shards next to the same files, so the report opens without a server.
"""
