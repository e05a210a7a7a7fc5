"""A minimal bring-your-own agent: the standard library only, as a user's program would be.

Run by the ``external`` kind inside the sandbox, from the repository root. It reads the task
from ``$AGENTLAB_TASK_FILE``, asks the OpenAI-compatible endpoint at ``$OPENAI_BASE_URL``
(key ``$OPENAI_API_KEY``) for a fix as a unified diff in a fenced ``diff`` block, and applies
it with ``git apply``; the working tree's diff is then the candidate. With ``--rounds N`` it
asks N times (each reply applied if it holds a diff), which is how a test spends past a cap.
Exit codes: 0 applied, 2 no diff in the reply, 3 the endpoint refused (message printed).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

SYSTEM = "Fix the issue. Reply with one unified diff in a ```diff fenced block."


def ask(messages: list[dict[str, str]]) -> str:
    """One chat completion; the reply's text."""
    body = {
        "model": os.environ.get("OPENAI_MODEL", "any"),
        "messages": messages,
        "max_tokens": int(os.environ.get("AGENT_MAX_TOKENS", "1024")),
    }
    request = urllib.request.Request(
        os.environ["OPENAI_BASE_URL"].rstrip("/") + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": "Bearer " + os.environ["OPENAI_API_KEY"],
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=300) as reply:
        data = json.loads(reply.read())
    return str(data["choices"][0]["message"]["content"] or "")


def main() -> int:
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 1
    with open(os.environ["AGENTLAB_TASK_FILE"], encoding="utf-8") as handle:
        task = handle.read()
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": task}]
    code = 2
    for turn in range(rounds):
        try:
            text = ask(messages)
        except urllib.error.HTTPError as exc:
            print(f"agent: call {turn} refused: HTTP {exc.code}: {exc.read().decode()}")
            return 3
        print(f"agent: call {turn} answered ({len(text)} chars)")
        blocks = re.findall(r"```diff\n(.*?)```", text, re.S)
        if not blocks:
            continue
        done = subprocess.run(["git", "apply", "-"], input=blocks[-1].encode(), check=False)
        print(f"agent: git apply exit {done.returncode}")
        code = 0 if done.returncode == 0 else 1
        messages.append({"role": "assistant", "content": text})
        messages.append({"role": "user", "content": "Applied. Anything else?"})
    return code


if __name__ == "__main__":
    sys.exit(main())
