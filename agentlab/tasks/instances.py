"""Instance formats: the current official one, Hugging Face datasets, and the converter.

The current SWE-bench format (swebench 5.x) makes each instance self-contained: ``image``,
``eval_script``, ``log_parser`` (a ``parse_log_*`` name), ``eval_type`` and ``image_assets``.
Such files are read unchanged by :func:`agentlab.tasks.swebench.load_dataset`. The Hugging Face
dataset names the harness accepts are read in :mod:`agentlab.tasks.hub`; this module adds
:func:`convert`, which writes the current format from an older dataset (instances plus
``specs.json``), with eval scripts in the harness's shape.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from agentlab.tasks.hub import HUB_ALIASES, hub_name, load_hub_records, read_parquet
from agentlab.tasks.swebench import Dataset, RepoSpec, SWEInstance, diff_files, namespace_image

# agentlab's own parser names and the harness parser that reads the same runner's log.
HARNESS_PARSER = {"pytest": "parse_log_pytest", "unittest": "parse_log_django"}
DEFAULT_NAMESPACE = "agentlab"
TESTBED = "/testbed"


def harness_eval_script(instance: SWEInstance, spec: RepoSpec) -> str:
    """An ``eval.sh`` in the harness's shape: reset the test files, apply the test patch from
    a heredoc, run the tests between the markers, reset again."""
    tests = " ".join(shlex.quote(f) for f in diff_files(instance.test_patch, include_new=False))
    reset = f"git checkout {instance.base_commit} {tests}" if tests else ":"
    delimiter = "EOF_114329324912"
    while delimiter in instance.test_patch:
        delimiter += "_"
    test_patch = (
        instance.test_patch if instance.test_patch.endswith("\n") else (instance.test_patch + "\n")
    )
    lines = [
        "#!/bin/bash",
        "set -uxo pipefail",
        f"cd {TESTBED}",
        reset,
        f"git apply -v - <<'{delimiter}'\n{test_patch}{delimiter}",
        ": '>>>>> Start Test Output'",
        spec.test_cmd,
        ": '>>>>> End Test Output'",
        reset,
    ]
    return "\n".join(lines) + "\n"


def convert(dataset: Dataset, *, namespace: str = DEFAULT_NAMESPACE) -> list[dict[str, Any]]:
    """Current-format records for every instance of an older-format ``dataset``.

    Each keeps its original fields and gains ``image`` (``<namespace>/sweb.eval.x86_64.<id>``:
    build or pull it under that name), ``eval_script``, ``log_parser`` (the harness's parser
    for the spec's runner), ``eval_type`` and ``image_assets``.
    """
    out = []
    for inst in dataset.instances:
        if inst.is_current_format:
            out.append(_record(inst))
            continue
        spec = dataset.spec_for(inst)
        record = _record(inst)
        record.update(
            image=namespace_image(namespace, inst.instance_id),
            eval_script=harness_eval_script(inst, spec),
            log_parser=HARNESS_PARSER.get(spec.log_parser, spec.log_parser),
            eval_type="pass_and_fail",
            image_assets="{}",
        )
        out.append(record)
    return out


def _record(inst: SWEInstance) -> dict[str, Any]:
    record = inst.model_dump(by_alias=True)
    # The published format stores the test lists and assets as JSON strings.
    record["FAIL_TO_PASS"] = json.dumps(list(inst.fail_to_pass))
    record["PASS_TO_PASS"] = json.dumps(list(inst.pass_to_pass))
    record["image_assets"] = json.dumps(inst.image_assets)
    return record


def write_jsonl(records: list[dict[str, Any]], path: Path) -> None:
    """One JSON object a line; written to a temp file and renamed (never a torn file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    tmp.replace(path)


__all__ = ["HUB_ALIASES", "convert", "hub_name", "load_hub_records", "read_parquet"]
