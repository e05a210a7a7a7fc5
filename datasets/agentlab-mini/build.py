"""Build the agentlab-mini dataset from the human-readable sources beside this file.

Usage: ``python3 datasets/agentlab-mini/build.py [--out DIR]`` (default: the packaged folder
``agentlab/datasets/agentlab_mini``).

For each ``instances/<repo>.yaml`` this script
1. commits ``repos/<repo>/`` as the repo's first release (the environment_setup_commit),
2. for each instance, branches from that release and commits the bug (the ``bug`` edits):
   that commit is the instance's ``base_commit``,
3. applies the instance's ``tests`` edits (-> ``test_patch``) and the reversed bug edits
   (-> gold ``patch``), runs the tests touched by the test patch before and after the gold
   patch, and derives FAIL_TO_PASS / PASS_TO_PASS from what actually ran,
4. writes ``repos/<owner>__<name>.bundle`` (all branches), ``instances.jsonl`` and
   ``specs.json``.

Every git identity, date and config is fixed, so commit hashes, bundles and instances are the
same on every machine. The build refuses to write anything if a declared FAIL_TO_PASS list
differs from what the tests show, or if any test still fails after the gold patch.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent.parent / "agentlab" / "datasets" / "agentlab_mini"
OWNER = "agentlab-mini"
IDENTITY = {"name": "agentlab-mini maintainers", "email": "maintainers@agentlab-mini.invalid"}
GIT_CONFIG = [
    "-c", "init.defaultBranch=main",
    "-c", "core.autocrlf=false",
    "-c", "core.fileMode=true",
    "-c", "commit.gpgSign=false",
    "-c", "gc.auto=0",
    "-c", "pack.threads=1",
    "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicPrefix=false",
]  # fmt: skip
TEST_CMDS = {
    "pytest": "python3 -m pytest -rA -p no:cacheprovider",
    "unittest": "python3 -m unittest -v",
}
_PYTEST_LINE = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED) (\S+)")
_UNITTEST_LINE = re.compile(r"^(\S+ \([\w.]+\)) \.\.\. (ok|FAIL|ERROR|skipped.*|expected failure)$")


class BuildError(Exception):
    """The sources describe an instance that is not what it claims to be."""


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PYTEST_"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME=IDENTITY["name"],
        GIT_AUTHOR_EMAIL=IDENTITY["email"],
        GIT_COMMITTER_NAME=IDENTITY["name"],
        GIT_COMMITTER_EMAIL=IDENTITY["email"],
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONHASHSEED="0",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        LC_ALL="C.UTF-8",
        TZ="UTC",
    )
    return env


class Repo:
    """A scratch git repository driven with a fixed identity and configuration."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = path
        self.env = env

    def git(self, *args: str, date: str | None = None) -> str:
        env = dict(self.env)
        if date is not None:
            env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        proc = subprocess.run(
            ["git", *GIT_CONFIG, *args],
            cwd=self.path,
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise BuildError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def commit_all(self, message: str, date: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, date=date)
        return self.git("rev-parse", "HEAD").strip()

    def reset(self, commit: str) -> None:
        self.git("checkout", "-q", "-f", commit)
        self.git("clean", "-q", "-fdx")


def _copy_tree(src: Path, dest: Path) -> None:
    for path in sorted(src.rglob("*")):
        if "__pycache__" in path.parts or path.is_dir():
            continue
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        target.chmod(0o644)


def _edit(root: Path, edit: dict[str, str], *, reverse: bool = False) -> None:
    """Apply one find/replace (or append) edit; the text to find must occur exactly once."""
    path = root / edit["file"]
    text = path.read_text() if path.exists() else ""
    if "append" in edit:
        if reverse:
            raise BuildError(f"{edit['file']}: an append edit cannot be reversed")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.rstrip("\n") + "\n\n\n" + edit["append"])
        return
    old, new = (edit["replace"], edit["find"]) if reverse else (edit["find"], edit["replace"])
    # YAML block scalars lose the code's indentation: try the usual indent levels.
    for indent in range(0, 17, 4):
        old_i, new_i = _indented(old, indent), _indented(new, indent)
        starts = [m.start() for m in re.finditer(re.escape(old_i), text)]
        starts = [i for i in starts if i == 0 or text[i - 1] == "\n"]  # whole lines only
        if len(starts) == 1:
            path.write_text(text[: starts[0]] + new_i + text[starts[0] + len(old_i) :])
            return
    raise BuildError(f"{edit['file']}: expected exactly one match of {old[:60]!r}")


def _indented(block: str, indent: int) -> str:
    pad = " " * indent
    return "".join(pad + line if line.strip() else line for line in block.splitlines(True))


def _touched_files(diff: str) -> list[str]:
    return sorted(set(re.findall(r"^diff --git a/(\S+) b/", diff, flags=re.M)))


def run_tests(root: Path, parser: str, files: list[str], env: dict[str, str]) -> dict[str, str]:
    """Run the repo's test command on ``files``; map each test id to PASSED/FAILED."""
    cmd = [*TEST_CMDS[parser].split(), *files]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    status: dict[str, str] = {}
    if parser == "pytest":
        for line in proc.stdout.splitlines():
            match = _PYTEST_LINE.match(line)
            if match:
                ok = match.group(1) in ("PASSED", "XFAIL")
                status[match.group(2)] = "PASSED" if ok else "FAILED"
    else:
        for line in proc.stderr.splitlines():
            match = _UNITTEST_LINE.match(line)
            if match:
                ok = match.group(2) in ("ok", "expected failure")
                status[match.group(1)] = "PASSED" if ok else "FAILED"
    if not status:
        raise BuildError(f"no test results from {' '.join(cmd)}:\n{proc.stdout}{proc.stderr}")
    return status


def _build_instance(
    repo: Repo, meta: dict[str, Any], inst: dict[str, Any], release: str
) -> dict[str, Any]:
    name = meta["name"]
    number = inst["number"]
    repo.reset(release)
    repo.git("checkout", "-q", "-b", f"dev-{number}")
    for edit in inst["bug"]:
        _edit(repo.path, edit)
    base = repo.commit_all(inst["commit_message"], inst["commit_date"])
    for edit in inst["tests"]:
        _edit(repo.path, edit)
    test_patch = repo.git("diff", "--no-color", "--no-ext-diff")
    test_files = _touched_files(test_patch)
    if not all(f.startswith("tests/") for f in test_files):
        raise BuildError(f"{name}-{number}: test edits must stay under tests/")
    before = run_tests(repo.path, meta["log_parser"], test_files, repo.env)
    repo.git("add", "-A")  # stage the tests so the next diff shows the fix only
    for edit in reversed(inst["bug"]):
        _edit(repo.path, edit, reverse=True)
    patch = repo.git("diff", "--no-color", "--no-ext-diff")
    after = run_tests(repo.path, meta["log_parser"], test_files, repo.env)
    instance_id = f"{OWNER}__{name}-{number}"
    if "regress" in inst:
        _build_regression(repo, meta, inst, instance_id, test_files, after)
    still_failing = sorted(t for t, s in after.items() if s != "PASSED")
    if still_failing:
        raise BuildError(f"{instance_id}: tests fail after the gold patch: {still_failing}")
    f2p = sorted(t for t in after if before.get(t) != "PASSED")
    p2p = sorted(t for t in after if before.get(t) == "PASSED")
    if f2p != sorted(inst["fail_to_pass"]):
        raise BuildError(f"{instance_id}: FAIL_TO_PASS is {f2p}, declared {inst['fail_to_pass']}")
    return {
        "repo": f"{OWNER}/{name}",
        "instance_id": instance_id,
        "base_commit": base,
        "patch": patch,
        "test_patch": test_patch,
        "problem_statement": inst["problem_statement"],
        "hints_text": inst.get("hints_text", ""),
        "created_at": inst["created_at"],
        "version": meta["version"],
        "FAIL_TO_PASS": json.dumps(f2p),
        "PASS_TO_PASS": json.dumps(p2p),
        "environment_setup_commit": release,
        "difficulty": inst["difficulty"],
    }


REGRESSIONS: dict[str, str] = {}


def _build_regression(
    repo: Repo, meta: dict[str, Any], inst: dict[str, Any], instance_id: str,
    test_files: list[str], after: dict[str, str],
) -> None:  # fmt: skip
    """A patch that fixes the issue but breaks a PASS_TO_PASS test (an example prediction)."""
    for edit in inst["regress"]:
        _edit(repo.path, edit)
    REGRESSIONS[instance_id] = repo.git("diff", "--no-color", "--no-ext-diff")
    status = run_tests(repo.path, meta["log_parser"], test_files, repo.env)
    f2p_ok = all(status[t] == "PASSED" for t in inst["fail_to_pass"])
    broken = [t for t, s in status.items() if s != "PASSED" and after[t] == "PASSED"]
    if not f2p_ok or not broken:
        raise BuildError(f"{instance_id}: the regressing patch must fix FAIL_TO_PASS, break some")


def _write_examples(out: Path) -> None:
    """Example predictions: one regressing patch and one malformed diff."""
    folder = out / "examples"
    folder.mkdir(exist_ok=True)
    (instance_id, regress), *_ = sorted(REGRESSIONS.items())
    rows = {
        "predictions_regress.jsonl": regress,
        "predictions_malformed.jsonl": MALFORMED_PATCH,
    }
    for filename, patch in rows.items():
        record = {"instance_id": instance_id, "model_name_or_path": "example", "model_patch": patch}
        (folder / filename).write_text(json.dumps(record, sort_keys=True) + "\n")


# A hunk that claims 7 lines but ends after 2: git apply and GNU patch both refuse it.
MALFORMED_PATCH = """\
diff --git a/quantities/quantity.py b/quantities/quantity.py
--- a/quantities/quantity.py
+++ b/quantities/quantity.py
@@ -80,7 +80,7 @@ class Quantity:
-        return self.value < other.value
+        return self.value < self._other_in_my_unit(other)
"""


def build_repo(meta: dict[str, Any], work: Path, out: Path) -> list[dict[str, Any]]:
    """Create one repo's history and bundle; return its instances."""
    env = _clean_env(work / "home")
    (work / "home").mkdir(exist_ok=True)
    root = work / meta["name"]
    root.mkdir()
    repo = Repo(root, env)
    repo.git("init", "-q")
    _copy_tree(HERE / "repos" / meta["name"], root)
    release = repo.commit_all(meta["release_message"], meta["release_date"])
    instances = [_build_instance(repo, meta, inst, release) for inst in meta["instances"]]
    repo.reset("main")
    bundle = out / "repos" / f"{OWNER}__{meta['name']}.bundle"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    repo.git("bundle", "create", "-q", str(bundle), "--all")
    return instances


def build(out: Path) -> None:
    """Build every repo and write the dataset folder ``out``."""
    metas = [yaml.safe_load(p.read_text()) for p in sorted((HERE / "instances").glob("*.yaml"))]
    specs: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="agentlab-mini-") as tmp:
        shutil.rmtree(out / "repos", ignore_errors=True)
        for meta in metas:
            rows.extend(build_repo(meta, Path(tmp), out))
            specs[f"{OWNER}/{meta['name']}"] = {
                meta["version"]: {
                    "install": [],
                    "test_cmd": TEST_CMDS[meta["log_parser"]],
                    "log_parser": meta["log_parser"],
                }
            }
    rows.sort(key=lambda r: (r["repo"], int(r["instance_id"].rsplit("-", 1)[1])))
    with (out / "instances.jsonl").open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True) + "\n")
    (out / "specs.json").write_text(json.dumps(specs, indent=2, sort_keys=True) + "\n")
    _write_examples(out)
    print(f"built {len(rows)} instances over {len(metas)} repos into {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        build(args.out)
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
