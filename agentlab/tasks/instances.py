"""Instance formats: the current official one, Hugging Face datasets, and the converter.

The current SWE-bench format (swebench 5.x) makes each instance self-contained: ``image``,
``eval_script``, ``log_parser`` (a ``parse_log_*`` name), ``eval_type`` and ``image_assets``.
Such files are read unchanged by :func:`agentlab.tasks.swebench.load_dataset`. This module adds
the Hugging Face dataset names the harness accepts (through the ``datasets`` library, the only
module importing it) and :func:`convert`, which writes the current format from an older dataset
(instances plus ``specs.json``), with eval scripts in the harness's shape.
"""

from __future__ import annotations

import importlib
import json
import shlex
from pathlib import Path
from typing import Any

from agentlab.errors import DatasetError
from agentlab.tasks.swebench import Dataset, RepoSpec, SWEInstance, diff_files, namespace_image

# The dataset names the harness maps to hub repositories; any other "owner/name" is used as is.
HUB_ALIASES = {
    "swe-bench": "SWE-bench/SWE-bench",
    "swebench": "SWE-bench/SWE-bench",
    "swe_bench": "SWE-bench/SWE-bench",
    "swe-bench-lite": "SWE-bench/SWE-bench_Lite",
    "swebench-lite": "SWE-bench/SWE-bench_Lite",
    "swe_bench_lite": "SWE-bench/SWE-bench_Lite",
    "swe-bench_lite": "SWE-bench/SWE-bench_Lite",
    "lite": "SWE-bench/SWE-bench_Lite",
}
# agentlab's own parser names and the harness parser that reads the same runner's log.
HARNESS_PARSER = {"pytest": "parse_log_pytest", "unittest": "parse_log_django"}
DEFAULT_NAMESPACE = "agentlab"
TESTBED = "/testbed"


def hub_name(name: str) -> str | None:
    """The hub repository ``name`` stands for, or None if it is not a hub dataset name."""
    if name.lower() in HUB_ALIASES:
        return HUB_ALIASES[name.lower()]
    parts = name.split("/")
    if len(parts) == 2 and all(parts) and not name.endswith((".json", ".jsonl", ".parquet")):
        return name
    return None


def _datasets_lib() -> Any:
    try:
        return importlib.import_module("datasets")
    except ImportError as exc:
        raise DatasetError(
            "reading Hugging Face datasets and .parquet files needs the datasets library; "
            "run: pip install 'agentlab[swebench]'"
        ) from exc


def load_hub_records(name: str, split: str) -> list[dict[str, Any]]:
    """Records of a hub dataset's ``split``; a one-line error naming what to download."""
    repo = hub_name(name) or name
    lib = _datasets_lib()
    try:
        data = lib.load_dataset(repo, split=split)
    except Exception as exc:  # the hub client raises many types: offline, 404, auth, network
        raise DatasetError(
            f"cannot load {repo} (split {split}) from the Hugging Face hub "
            f"({exc.__class__.__name__}); download its {split} split from "
            f"https://huggingface.co/datasets/{repo}/tree/main/data (a .parquet file) and pass "
            "--dataset <that file>"
        ) from exc
    return [dict(row) for row in data]


def read_parquet(path: Path) -> list[dict[str, Any]]:
    """Records of a ``.parquet`` file (as the hub serves datasets)."""
    lib = _datasets_lib()
    try:
        data = lib.load_dataset("parquet", data_files=str(path), split="train")
    except Exception as exc:
        raise DatasetError(f"{path}: cannot read parquet: {exc}") from exc
    return [dict(row) for row in data]


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
