"""The shell and python3 text the agent's tools run inside the sandbox.

``EXIT_TRAP`` runs when a tool call's shell exits (``exit`` included). First it SIGKILLs every
process carrying this exec's marker (the sandbox sets ``AGENTLAB_EXEC_ID`` on every exec)
except the shell and its ``timeout`` parent, so nothing a call started in the background (a
server, a fork bomb) outlives the call; builtins only, since with the pids limit exhausted
nothing new can be forked. Then, if ``AGENTLAB_SNAPSHOT`` holds a marker, it prints the
marker, the working tree's diff and ``<marker>-end``: the caller splits that off the output,
so a snapshot needs no second round trip to the engine. The shell exits with the command's
status. A call killed at its timeout never reaches the trap; the sandbox kills its tree and
the caller takes the snapshot separately.
"""

from __future__ import annotations

# git: the tree against the one commit, new files included, caches and the agent's own
# index left alone (a private index file under /var/tmp).
SNAPSHOT = (
    "mkdir -p /var/tmp/agentlab && export GIT_INDEX_FILE=/var/tmp/agentlab/snapshot.index && "
    "rm -f $GIT_INDEX_FILE && git read-tree HEAD && "
    "git add -A -- . ':(exclude,glob)**/__pycache__/**' ':(exclude,glob)**/*.pyc' && "
    "git diff --cached --binary HEAD"
)

EXIT_TRAP = (
    r"""__agentlab_exit() {
  local rc=$? round p kv found
  if [ -n "$AGENTLAB_EXEC_ID" ]; then
    for round in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
      found=
      for p in /proc/[0-9]*; do
        p=${p#/proc/}
        if [ "$p" = "$$" ] || [ "$p" = "$PPID" ]; then continue; fi
        while IFS= read -r -d '' kv; do
          if [ "$kv" = "AGENTLAB_EXEC_ID=$AGENTLAB_EXEC_ID" ]; then
            kill -9 "$p" 2>/dev/null; found=1; break
          fi
        done 2>/dev/null < "/proc/$p/environ"
      done
      [ -n "$found" ] || break
    done
  fi
  if [ -n "$AGENTLAB_SNAPSHOT" ]; then
    printf '\n%s\n' "$AGENTLAB_SNAPSHOT"
    ( cd "$AGENTLAB_REPO" && """
    + SNAPSHOT
    + r""" ) 2>/dev/null && printf '%s-end\n' "$AGENTLAB_SNAPSHOT"
  fi
  exit $rc
}
"""
)

EDITOR_PYTHON = "python3"

# The editor, run as `python3 -c "$AGENTLAB_EDITOR"` with its JSON arguments on stdin, from
# the repository root. Exit code 3 = the call was wrong (the message is for the model).
EDITOR_SCRIPT = r"""
import json, os, sys
args = json.load(sys.stdin)
command, path = args.get("command"), args.get("path")


def fail(message):
    print("error: " + message)
    sys.exit(3)


def read(path):
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}")


def write(path, text):
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


if not isinstance(path, str) or not path:
    fail("argument 'path' (a string) is required")
if command == "view":
    lines = read(path).splitlines()
    print("\n".join(f"{i:6}\t{line}" for i, line in enumerate(lines, 1)) or "(empty file)")
elif command == "create":
    text = args.get("file_text")
    if not isinstance(text, str):
        fail("argument 'file_text' (a string) is required")
    write(path, text)
    print(f"created {path}")
elif command == "str_replace":
    old, new = args.get("old_str"), args.get("new_str", "")
    if not isinstance(old, str) or not old:
        fail("argument 'old_str' (a non-empty string) is required")
    if not isinstance(new, str):
        fail("argument 'new_str' must be a string")
    text = read(path)
    count = text.count(old)
    if count != 1:
        where = "does not occur" if count == 0 else f"occurs {count} times"
        fail(f"old_str {where} in {path}; quote it exactly, with enough lines to be unique")
    write(path, text.replace(old, new, 1))
    print(f"edited {path}")
else:
    fail(f"unknown editor command {command!r}; use view, create or str_replace")
"""
