"""Bring-your-own agent on the real Docker engine and real HTTP.

The agent is ``agentlab/agent/examples/diff_agent.py`` (standard library only), run inside the
instance's sandbox; it talks to the metering proxy through the sandbox's private network, the
proxy forwards to the scripted model served over HTTP, and every call lands in a real SQLite
``llm_call`` table with its dollars. The diff it leaves is graded by the evaluation harness.
A second test probes, from inside the sandbox, everything but the proxy, a request with a
wrong key, and a call past the problem's cap.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

import agentlab.agent.examples.diff_agent as diff_agent
from agentlab.agent.external import ExternalConfig, ExternalRun, diff_rules, run_external
from agentlab.coordinator.kinds.swe_data import ProviderImages, resolve_dataset
from agentlab.llm import LLMClient, OpenAIEndpoint, ScriptedModel
from agentlab.llm.openai import OpenAIBackend
from agentlab.llm.pricing import ApiPrice
from agentlab.llm.testing import ScriptedServer
from agentlab.store import Store, open_store
from agentlab.store.llm_log import StoreCallRecorder
from agentlab.store.tables import LLMCall, Run
from agentlab.tasks.harness import EvalConfig, InstanceImages, evaluate
from agentlab.tasks.predictions import Prediction
from agentlab.tasks.swebench import Dataset, SWEInstance
from agentlab.types import CallContext, SandboxSpec

pytestmark = [pytest.mark.docker, pytest.mark.slow]

AGENT = str(Path(diff_agent.__file__).resolve())
PRICE = ApiPrice(input_per_mtok=1.0, output_per_mtok=2.0)
SQUASH = (
    "rm -rf .git && git init -q && git add -A && "
    "git -c user.name=agentlab -c user.email=agentlab@localhost commit -q -m 'original code'"
)
# From inside the sandbox: TEST-NET addresses (a connect never leaves the machine), the
# engine host's bridge address (a port the test listens on), then the proxy with a wrong key.
PROBE = r"""
import json, os, socket, urllib.request, urllib.error
host_port = (os.environ["HOST_IP"], int(os.environ["HOST_PORT"]))
for host, port in [("198.51.100.1", 80), ("203.0.113.1", 443), host_port]:
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, port)); print("probe", host, "OPEN")
    except OSError as exc:
        print("probe", host, "blocked", type(exc).__name__)
if "OPENAI_BASE_URL" not in os.environ: raise SystemExit(0)
url = os.environ["OPENAI_BASE_URL"] + "/models"
for key in ("wrong", os.environ["OPENAI_API_KEY"]):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + key})
    try:
        with urllib.request.urlopen(req, timeout=10) as r: print("proxy", r.status)
    except urllib.error.HTTPError as exc: print("proxy", exc.code)
"""


async def _prepare(sandbox: Any) -> None:
    done = await sandbox.exec(["bash", "-c", SQUASH], cwd="/testbed", timeout=120)
    assert done.ok, done.stderr


@pytest.fixture(scope="module")
def data() -> Dataset:
    return resolve_dataset("agentlab-mini")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = open_store(f"sqlite:///{tmp_path}/external.db")
    st.call(lambda s: s.add(Run(id="run-x", kind="run")))
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
async def client(data: Dataset, store: Store) -> AsyncIterator[LLMClient]:
    async with ScriptedServer(ScriptedModel(diff_rules(data.instances))) as server:
        config = OpenAIEndpoint(name="scripted-http", model="scripted", base_url=server.base_url)
        llm = LLMClient(
            OpenAIBackend(config), model="scripted", price=PRICE, recorder=StoreCallRecorder(store)
        )
        try:
            yield llm
        finally:
            await llm.aclose()


@pytest.fixture
def host_listener() -> Iterator[int]:
    """A TCP port listening on the host (all addresses, for the probes; closed after)."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


# The sandbox's default gateway (the engine host on a bridge network), from /proc/net/route.
GATEWAY = (
    "import socket, struct; rows = [l.split() for l in open('/proc/net/route')][1:]; "
    "print(next(socket.inet_ntoa(struct.pack('<L', int(r[2], 16))) for r in rows if r[1] == "
    "'00000000'))"
)


def _leftovers(run_id: str) -> list[str]:
    """Containers and networks still labelled with the run (the sandbox, forwarder, network)."""
    label = ["--filter", f"label=agentlab.run_id={run_id}"]
    found = []
    for argv in (["docker", "ps", "-aq", *label], ["docker", "network", "ls", "-q", *label]):
        found += subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    return found


async def _run(
    client: LLMClient,
    backend: Any,
    image: str,
    instance: SWEInstance,
    run_id: str,
    config: ExternalConfig,
) -> ExternalRun:
    spec = SandboxSpec(image=image, run_id=run_id, workdir="/testbed")
    context = CallContext(run_id="run-x", role="external", task_id=instance.instance_id)
    return await run_external(
        client,
        backend.open,
        spec,
        config,
        task=instance.problem_statement,
        context=context,
        repo_dir="/testbed",
        prepare=_prepare,
    )


async def test_own_agent_resolves_through_the_proxy(
    client: LLMClient, docker_backend: Any, data: Dataset, store: Store, run_id: str
) -> None:
    images = InstanceImages(ProviderImages(), EvalConfig(run_id=run_id, timeout=300))
    config = ExternalConfig(command="python3 $AGENTLAB_AGENT_DIR/diff_agent.py", files=[AGENT])

    async def one(instance: SWEInstance) -> tuple[ExternalRun, bool]:
        image = await images.image_for(data, instance)
        run = await _run(client, docker_backend, image, instance, run_id, config)
        prediction = Prediction(instance_id=instance.instance_id, model_name="x", patch=run.diff)
        cfg = EvalConfig(run_id=run_id, timeout=300)
        graded = await evaluate(docker_backend, images, data, instance, prediction, cfg)
        return run, graded.grade.resolved

    chosen = data.instances[:2]
    results = await asyncio.gather(*(one(i) for i in chosen))
    for run, resolved in results:
        assert resolved, run.log
        assert run.exit_code == 0 and run.calls == 1 and run.usd > 0
        assert "git apply exit 0" in run.log
    rows = store.call(lambda s: list(s.exec(select(LLMCall)).all()))
    assert sorted(r.task_id for r in rows) == sorted(i.instance_id for i in chosen)
    assert all(r.role == "external" and r.usd > 0 for r in rows)
    assert sum(r.usd for r in rows) == pytest.approx(sum(run.usd for run, _ in results))
    assert _leftovers(run_id) == []


async def test_sandbox_reaches_only_the_proxy_and_the_cap_holds(
    client: LLMClient,
    docker_backend: Any,
    data: Dataset,
    store: Store,
    run_id: str,
    host_listener: int,
) -> None:
    images = InstanceImages(ProviderImages(), EvalConfig(run_id=run_id, timeout=300))
    instance = data.instances[0]
    image = await images.image_for(data, instance)
    # Control: with a full network the same probe reaches the host's port (and the TEST-NET
    # connects are answered on this machine), so "blocked" below is the proxy network's doing.
    open_spec = SandboxSpec(image=image, run_id=run_id, network=True)
    async with docker_backend.open(open_spec) as sb:
        gateway = (await sb.exec(["python3", "-c", GATEWAY], timeout=60)).stdout.strip()
        probe_env = {"HOST_IP": gateway, "HOST_PORT": str(host_listener)}
        seen = await sb.exec(["python3", "-c", PROBE], env=probe_env, timeout=60)
    assert f"probe {gateway} OPEN" in seen.stdout, seen.stdout + seen.stderr
    # Each call's worst case is ~1024 tokens at $2/M (~$0.002): the first fits in $0.003,
    # the second would pass it and is refused before reaching the model.
    command = (
        f"python3 -c '{PROBE}'; AGENT_MAX_TOKENS=1024 "
        "python3 $AGENTLAB_AGENT_DIR/diff_agent.py --rounds 3"
    )
    config = ExternalConfig(
        command=command, files=[AGENT], max_usd=0.003, timeout_s=300, env=probe_env
    )
    run = await _run(client, docker_backend, image, instance, run_id, config)
    probes = [line for line in run.log.splitlines() if line.startswith("probe")]
    assert len(probes) == 3 and all("blocked" in line for line in probes), run.log
    assert "proxy 401" in run.log and "proxy 200" in run.log
    assert run.exit_code == 3 and "HTTP 402" in run.log and "budget of $0.003" in run.log
    assert run.calls == 1 and run.refused == 2  # the wrong key, then the capped call
    rows = store.call(lambda s: list(s.exec(select(LLMCall)).all()))
    assert len(rows) == 1 and rows[0].usd == pytest.approx(run.usd) and run.usd <= 0.003
    assert run.diff  # the first reply's fix was applied before the cap stopped it
    assert _leftovers(run_id) == []


async def test_cancelled_run_removes_sandbox_forwarder_and_network(
    client: LLMClient, docker_backend: Any, base_image: str, run_id: str
) -> None:
    started = asyncio.Event()

    async def prepare(sandbox: Any) -> None:
        assert len(_leftovers(run_id)) == 3  # sandbox, forwarder, network: all labelled
        started.set()

    spec = SandboxSpec(image=base_image, run_id=run_id)
    config = ExternalConfig(command="sleep 120")
    context = CallContext(run_id="run-x", role="external", task_id="t")
    run = asyncio.create_task(
        run_external(
            client, docker_backend.open, spec, config,
            task="wait", context=context, repo_dir="/", prepare=prepare,
        )
    )  # fmt: skip
    await started.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert _leftovers(run_id) == []
