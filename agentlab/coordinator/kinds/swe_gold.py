"""A scripted model that solves SWE-style problems with their reference patches.

For demos, dry runs and tests of the whole flow without a real model: the rules answer each
stage the way a competent model would, using what the dataset knows (the gold ``patch`` and
``test_patch``). Relevance scores the files the gold patch touches high and the rest low;
ranking lists those files; testing writes a script that runs the repository's own tests with
the hidden test patch applied in a scratch copy (non-zero on the buggy code, zero once fixed);
editing sends the gold patch rewritten as search/replace blocks; every review approves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from agentlab.llm.scripted import Rule
from agentlab.tasks.current import test_lines
from agentlab.tasks.swebench import Dataset, SWEInstance, diff_files

SYSTEM_RELEVANCE = r"judge whether a source file matters"
SYSTEM_RANKING = r"rank source files"
SYSTEM_TESTING = r"write reproduction tests"
SYSTEM_EDITING = r"fix bugs in Python repositories"
SYSTEM_JUDGE = r"You review a patch for a GitHub issue"
SYSTEM_PAIRWISE = r"You compare two patches"

TEST_SCRIPT = '''\
"""Runs the repository's tests with the issue's tests added, in a scratch copy."""
import os, shutil, subprocess, sys, tempfile

TEST_PATCH = {patch!r}
work = tempfile.mkdtemp()
repo = os.path.join(work, "repo")
shutil.copytree(os.getcwd(), repo, ignore=shutil.ignore_patterns(".git", "__pycache__"))
with open(os.path.join(work, "test.diff"), "w") as fh:
    fh.write(TEST_PATCH)
subprocess.run(["git", "apply", os.path.join(work, "test.diff")], cwd=repo, check=True)
env = dict(os.environ, PYTHONPATH=repo, PYTHONDONTWRITEBYTECODE="1")
done = subprocess.run({command!r}, shell=True, cwd=repo, env=env,
                      capture_output=True, text=True)
print(done.stdout[-3000:], done.stderr[-2000:])
print("fixed" if done.returncode == 0 else "not fixed")
sys.exit(0 if done.returncode == 0 else 2)
'''


def edit_blocks(patch: str) -> str:
    """A unified diff rewritten as search/replace blocks, one block per hunk."""
    blocks: list[str] = []
    path = ""
    search: list[str] = []
    replace: list[str] = []
    in_hunk = False

    def flush() -> None:
        if in_hunk:
            blocks.append(_block(path, search, replace))
        search.clear()
        replace.clear()

    for line in patch.splitlines():
        if line.startswith("diff --git "):
            flush()
            in_hunk = False
        elif line.startswith("+++ "):
            target = line[4:].split("\t")[0].strip()
            path = target[2:] if target.startswith("b/") else target
        elif line.startswith("@@"):
            flush()
            in_hunk = True
        elif in_hunk and (line.startswith(("+", "-", " ")) or line == ""):
            tag, text = (line[:1], line[1:]) if line else (" ", "")
            if tag in (" ", "-"):
                search.append(text)
            if tag in (" ", "+"):
                replace.append(text)
    flush()
    return "\n\n".join(blocks)


def _block(path: str, search: list[str], replace: list[str]) -> str:
    body = "\n".join(search)
    new = "\n".join(replace)
    return f"{path}\n<<<<<<< SEARCH\n{body}{chr(10) if body else ''}=======\n{new}\n>>>>>>> REPLACE"


def _test_cmd(dataset: Dataset, instance: SWEInstance) -> str:
    if instance.is_current_format:  # the eval script's own test command
        return "\n".join(line for line in test_lines(instance) if line.strip())
    return dataset.spec_for(instance).test_cmd


def test_script(instance: SWEInstance, test_cmd: str) -> str:
    """A reproduction script: the hidden tests, run in a scratch copy of the repository."""
    return TEST_SCRIPT.format(patch=instance.test_patch, command=test_cmd)


def _about(instance: SWEInstance) -> str:
    # The problem statement is pasted verbatim into the first user message of every stage.
    return re.escape(instance.problem_statement.strip()[:200])


def follow_up_rules() -> list[Rule]:
    """Approvals for every review turn (they carry no problem text, so they come first)."""
    return [
        Rule(system=SYSTEM_TESTING, user=r"^Your script's output", replies=("APPROVE",)),
        Rule(system=SYSTEM_EDITING, user=r"^The test on the original code", replies=("APPROVE",)),
    ]


def instance_rules(instance: SWEInstance, test_cmd: str) -> list[Rule]:
    """First-turn answers of every stage for one problem."""
    about = _about(instance)
    files = diff_files(instance.patch)
    listing = "\n".join(files)
    wanted = "|".join(re.escape(f) for f in files) or "(?!)"
    script = test_script(instance, test_cmd)
    return [
        Rule(
            system=SYSTEM_RELEVANCE,
            user=rf"(?s){about}.*\nFile (?:{wanted}):\n",
            replies=("The fix is in this file.\nSCORE: 9",),
        ),
        Rule(system=SYSTEM_RANKING, user=f"(?s){about}", replies=(f"```\n{listing}\n```",)),
        Rule(system=SYSTEM_TESTING, user=f"(?s){about}", replies=(f"```python\n{script}```",)),
        Rule(system=SYSTEM_EDITING, user=f"(?s){about}", replies=(edit_blocks(instance.patch),)),
    ]


def gold_rules(dataset: Dataset, instances: Iterable[SWEInstance] | None = None) -> list[Rule]:
    """Rules that solve ``instances`` (default: all of ``dataset``) with the gold patches."""
    rules = follow_up_rules()
    for instance in dataset.instances if instances is None else instances:
        rules += instance_rules(instance, _test_cmd(dataset, instance))
    rules.append(Rule(system=SYSTEM_RELEVANCE, replies=("Not needed for this issue.\nSCORE: 1",)))
    return rules


def reproduction_rules(dataset: Dataset) -> list[Rule]:
    """Only the testing stage's answers (the hidden tests as a script), for kinds whose
    trajectory is not the state machines but whose selection writes tests."""
    rules = [r for r in follow_up_rules() if r.system == SYSTEM_TESTING]
    for instance in dataset.instances:
        test_cmd = dataset.spec_for(instance).test_cmd
        rules += [r for r in instance_rules(instance, test_cmd) if r.system == SYSTEM_TESTING]
    return rules


def _gold_line(instance: SWEInstance) -> str:
    """The first non-blank line the gold patch adds (a regex): what a right patch contains."""
    for line in instance.patch.splitlines():
        if line.startswith("+") and not line.startswith("+++") and line[1:].strip():
            return re.escape(line[1:])
    return "(?!)"


def verifier_rules(dataset: Dataset) -> list[Rule]:
    """A judge and a pairwise verifier that know the reference: a patch adding the gold
    patch's first added line scores 9 and wins, any other scores 2 and loses."""
    rules: list[Rule] = []
    for instance in dataset.instances:
        about, line = _about(instance), _gold_line(instance)
        rules += [
            Rule(system=SYSTEM_JUDGE, user=f"(?s){about}.*{line}", replies=("Right.\nSCORE: 9",)),
            Rule(
                system=SYSTEM_PAIRWISE,
                user=f"(?s){about}.*# Patch A.*{line}.*# Patch B",
                replies=("A has the fix.\nWINNER: A",),
            ),
        ]
    return [
        *rules,
        Rule(system=SYSTEM_JUDGE, replies=("Does not fix it.\nSCORE: 2",)),
        Rule(system=SYSTEM_PAIRWISE, replies=("B, if either.\nWINNER: B",)),
    ]
