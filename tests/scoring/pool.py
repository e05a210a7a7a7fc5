"""A candidate pool on agentlab-mini's confini-1 with known correct and incorrect members,
and generated tests that are right, wrong and flaky (shared by the scoring tests)."""

from __future__ import annotations

# ruff: noqa: E501 (diff lines are as long as the code they change)

INSTANCE = "agentlab-mini__confini-1"

PARTIAL = """\
diff --git a/confini/lexer.py b/confini/lexer.py
index b192436..4a9ea9b 100644
--- a/confini/lexer.py
+++ b/confini/lexer.py
@@ -47,7 +47,7 @@ def parse(text: str) -> Sections:
             continue
         pair = _KEY.match(stripped)
         if pair is None:
-            raise ParseError(f"expected 'key = value' or '[section]', got {stripped!r}", lineno)
+            raise ParseError(f"expected 'key = value' or '[section]', got {stripped!r}", lineno + 1)
         if current is None:
             raise ParseError(f"key {pair.group(1)!r} is outside of any section", lineno)
         key = pair.group(1)
"""

REGRESS = """\
diff --git a/confini/lexer.py b/confini/lexer.py
index b192436..1bf2e6b 100644
--- a/confini/lexer.py
+++ b/confini/lexer.py
@@ -27,10 +27,9 @@ def parse(text: str) -> Sections:
     current: dict[str, str] | None = None
     section = ""
     last_key: str | None = None
-    for lineno, line in enumerate(text.splitlines()):
+    for lineno, line in enumerate(text.splitlines(), start=1):
         stripped = line.strip()
         if not stripped:
-            last_key = None
             continue
         if stripped.startswith(("#", ";")):
             continue
"""

# Generated tests: standalone scripts, exit 0 = the issue is fixed.
RIGHT_ERROR_LINE = """\
import sys
from confini import loads, ParseError
try:
    loads("[a]\\nx = 1\\nnot a pair\\n")
except ParseError as exc:
    sys.exit(0 if exc.lineno == 3 else 1)
sys.exit(1)
"""

RIGHT_DUPLICATE_LINE = """\
import sys
from confini import loads, ParseError
try:
    loads("[a]\\nx = 1\\n\\nx = 2\\n")
except ParseError as exc:
    sys.exit(0 if exc.lineno == 4 else 1)
sys.exit(1)
"""

# Wrong, and passes on the unpatched code: it cannot tell a fix from no fix.
WRONG_PASSES_UNPATCHED = RIGHT_ERROR_LINE.replace("lineno == 3", "lineno == 2")
# Wrong, fails on the unpatched code, and votes for the off-by-two candidate.
WRONG_VOTES_OFF_BY_TWO = RIGHT_ERROR_LINE.replace("lineno == 3", "lineno == 4")

# Flaky: passes on odd runs, fails on even ones, counting in a file outside the repository.
FLAKY = """\
import os, sys
path = "/var/tmp/flaky-count"
n = int(open(path).read()) + 1 if os.path.exists(path) else 1
open(path, "w").write(str(n))
sys.exit(0 if n % 2 else 1)
"""

# What a selection model writes to tell the gold fix from the regressing one.
DISTINGUISH = """\
import sys
from confini import loads, ParseError
try:
    loads("[a]\\nkey = first\\n\\n    second\\n")
except ParseError:
    sys.exit(0)
print("a blank line no longer ends a continuation")
sys.exit(1)
"""


def pool(gold: str) -> dict[str, tuple[str, str | None]]:
    """name -> (patch, the test its trajectory wrote). Two members are the gold change."""
    lines = [ln for ln in gold.splitlines() if not ln.startswith("index ")]
    same_change = (
        "\n".join(ln.replace("@@ -27,7 +27,7 @@", "@@ -28,7 +28,7 @@") for ln in lines) + "\n"
    )
    return {
        "gold": (gold, RIGHT_ERROR_LINE),
        "gold_same_change": (same_change, RIGHT_ERROR_LINE + "\n"),
        "off_by_two": (gold.replace("start=1", "start=2"), WRONG_VOTES_OFF_BY_TWO),
        "partial": (PARTIAL, WRONG_PASSES_UNPATCHED),
        "regress": (REGRESS, RIGHT_DUPLICATE_LINE),
        "empty": ("", FLAKY),
    }
