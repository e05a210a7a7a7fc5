"""``agentlab report RUN --html DIR``: the viewer's pages for one run as a static bundle.

The bundle is the app shell and its JS/CSS, plus every page part of the run written as a
JSON shard (``data/<name>.js``, a ``agentlabShard(name, data)`` call, so it loads from
``file://`` where ``fetch`` is refused) and the plots as SVG. A page loads only the shards it
shows. Texts cut on a trajectory page are written whole as ``data/<name>.txt``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from agentlab.errors import ConfigError
from agentlab.viewer.api import Api
from agentlab.viewer.server import static_file

SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def shard_name(kind: str, params: dict[str, Any]) -> str:
    """The file name of one request; the same rule as ``shardName`` in static/app.js."""
    qs = "&".join(
        f"{quote(k, safe='')}={quote(str(params[k]), safe='')}"
        for k in sorted(params)
        if params[k] not in (None, "")
    )
    raw = f"{kind}?{qs}".encode()
    return "".join(chr(b) if b in SAFE else f"~{b:02x}" for b in raw)


class _Writer:
    def __init__(self, api: Api, folder: Path) -> None:
        self.api, self.data = api, folder / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.files = 0

    def put(self, kind: str, params: dict[str, Any]) -> Any:
        reply = self.api.handle(kind, {k: str(v) for k, v in params.items()})
        name = shard_name(kind, params)
        if kind.endswith(".svg"):
            (self.data / f"{name}.svg").write_bytes(reply.body)
            self.files += 1
            return None
        data = json.loads(reply.body)
        blob = json.dumps(data, default=str).replace("</", "<\\/")
        (self.data / f"{name}.js").write_text(f"agentlabShard({json.dumps(name)}, {blob});\n")
        self.files += 1
        return data

    def text(self, turn: int, path: str) -> None:
        reply = self.api.handle("text", {"turn": str(turn), "path": path})
        (self.data / f"{shard_name('text', {'turn': turn, 'path': path})}.txt").write_bytes(
            reply.body
        )
        self.files += 1


def _cut_paths(turn: dict[str, Any]) -> Iterator[str]:
    texts = [*turn["messages"], turn.get("diff"), turn.get("script")]
    for run in turn["execs"].values():
        texts += [run["stdout"], run["stderr"]]
    for t in texts:
        if t and t.get("cut"):
            yield t["path"]


def write_report(api: Api, run_id: str, folder: Path) -> int:
    """Write the bundle for ``run_id`` into ``folder``; return how many files it holds."""
    api.db.check_schema()
    if folder.exists() and any(folder.iterdir()) and not (folder / "index.html").exists():
        raise ConfigError(f"{folder} exists and is not an agentlab report; pick an empty folder")
    run = api.data("run", {"run": run_id})  # raises a one-line error for an unknown run
    if (folder / "data").exists():
        shutil.rmtree(folder / "data")
    out = _Writer(api, folder)
    listing = api.data("runs", {"q": run_id})
    listing["runs"] = [r for r in listing["runs"] if r["id"] == run_id]
    listing["more"] = False
    name = shard_name("runs", {})
    blob = json.dumps(listing, default=str)
    (out.data / f"{name}.js").write_text(f"agentlabShard({json.dumps(name)}, {blob});\n")
    assert run
    for kind in ("run", "stats", "coverage.svg", "cost.svg"):
        out.put(kind, {"run": run_id})
    for kind in ("problems", "decisions"):
        page, more = 0, True
        while more:
            data = out.put(kind, {"run": run_id, "page": page})
            more, page = bool(data.get("more")), page + 1
            if kind == "problems":
                for problem in data["problems"]:
                    _problem(out, run_id, problem["task_id"])
            else:
                for decision in data["decisions"]:
                    out.put("stops", {"run": run_id, "round": decision["round"]})
    static = folder / "static"
    static.mkdir(exist_ok=True)
    for name in ("app.js", "app.css"):
        (static / name).write_bytes(static_file(name) or b"")
    shell = (static_file("index.html") or b"").decode()
    marker = (
        f"<script>window.AGENTLAB_STATIC = true; window.AGENTLAB_RUN = {json.dumps(run_id)};"
        "</script>"
    )
    (folder / "index.html").write_text(shell.replace("<!--STATIC-->", marker))
    return out.files + 4


def _problem(out: _Writer, run_id: str, task_id: str) -> None:
    problem = out.put("problem", {"run": run_id, "task": task_id})
    for traj in problem.get("trajectories", []):
        data = out.put("trajectory", {"run": run_id, "task": task_id, "sample": traj["sample"]})
        for turn in data.get("turns", []):
            for path in _cut_paths(turn):
                out.text(turn["id"], path)
