"""Typed records that cross package boundaries.

Everything that moves between llm/, sandbox/, tasks/, scoring/, budget/, store/ and the
coordinator is one of these. They are frozen pydantic models: cheap to hash, safe to share
between tasks, and serialisable as they are into the store.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)

Role = Literal["system", "user", "assistant", "tool"]


class Record(BaseModel):
    """Base for every boundary record: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- LLM records


def _drop_empty(
    record: BaseModel, handler: SerializerFunctionWrapHandler, fields: tuple[str, ...]
) -> dict[str, Any]:
    # Tool fields are left out while empty, so a request without tools serialises (and so
    # hashes into a cache key, and is stored) exactly as it did before tools existed.
    data: dict[str, Any] = handler(record)
    for name in fields:
        if name in data and not data[name]:
            del data[name]
    return data


class ToolSpec(Record):
    """A tool the model may call: a name, what it does, and a JSON schema of its arguments."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})


class ToolCall(Record):
    """One call the model made. ``arguments`` is the JSON text as sent: it may be malformed."""

    id: str = ""
    name: str
    arguments: str = "{}"


class Message(Record):
    """A chat message. An assistant message may carry ``tool_calls``; a ``tool`` message is
    the result of the call named by ``tool_call_id``."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    @model_serializer(mode="wrap")
    def _serialize(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        return _drop_empty(self, handler, ("tool_calls", "tool_call_id"))

    @classmethod
    def tool_result(cls, call_id: str, content: str) -> Message:
        """The result of tool call ``call_id``, as the model will read it."""
        return cls(role="tool", content=content, tool_call_id=call_id)


class Usage(Record):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # prompt tokens read from the provider's prompt cache
    cache_write_tokens: int = 0  # prompt tokens written to it (Anthropic bills these extra)

    @model_serializer(mode="wrap")
    def _serialize(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        return _drop_empty(self, handler, ("cache_write_tokens",))

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
        )


class ChatRequest(Record):
    """One chat-completion request, independent of the provider's wire format."""

    model: str
    messages: tuple[Message, ...]
    temperature: float = 1.0
    top_p: float | None = None
    max_tokens: int = 1024
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    tools: tuple[ToolSpec, ...] = ()
    # The prefix (system prompt and first user message) is shared with other requests: ask
    # the provider to cache it. It changes the bill, never the answer, so it is not hashed.
    cache_prefix: bool = False

    @model_serializer(mode="wrap")
    def _serialize(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        return _drop_empty(self, handler, ("tools", "cache_prefix"))


class TokenLogprob(Record):
    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


class Choice(Record):
    index: int = 0
    text: str
    finish_reason: str | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    tool_calls: tuple[ToolCall, ...] = ()

    @model_serializer(mode="wrap")
    def _serialize(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        return _drop_empty(self, handler, ("tool_calls",))


class ChatResponse(Record):
    """What a backend returns for one request (all ``n`` choices)."""

    model: str
    choices: tuple[Choice, ...]
    usage: Usage = Usage()
    latency_s: float = 0.0


class CallContext(Record):
    """Who is calling: stored with every call so spend breaks down by stage and role."""

    run_id: str = ""
    role: str = ""
    task_id: str = ""
    sample: int = 0
    step: int = 0


class Cost(Record):
    usd: float = 0.0
    input_usd: float = 0.0
    output_usd: float = 0.0
    cached_usd: float = 0.0  # prompt-cache reads
    cache_write_usd: float = 0.0  # prompt-cache writes
    # What prompt caching saved on this call: its price with every prompt token billed as
    # fresh input, minus what it was billed (negative when writes cost more than reads saved).
    cache_saved_usd: float = 0.0
    gpu_seconds: float = 0.0
    sandbox_seconds: float = 0.0


# ----------------------------------------------------------------------- sandbox records


class SandboxSpec(Record):
    """What to start: an image and the limits it runs under."""

    image: str
    run_id: str = "adhoc"
    cpus: float = 1.0
    memory_mb: int = 1024
    pids_limit: int = 256
    tmp_mb: int = 512
    network: bool = False
    # A Unix socket on the engine's host (Docker only). When set, the sandbox's one network is a
    # private one with no route out, on which ``agentlab-proxy:8080`` forwards to this socket:
    # it reaches that and nothing else. ``network`` must then be False.
    proxy_socket: str | None = None
    workdir: str = "/"
    ttl_s: float = 3600.0
    output_cap_bytes: int = 4 * 1024 * 1024
    # RLIMIT_FSIZE for every exec and what it starts: the engine's root layer has no quota
    # on overlay2 over ext4, so this per-file cap is what keeps a test from filling the disk.
    file_size_mb: int = Field(default=1024, gt=0)
    env: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)


class ExecResult(Record):
    """The outcome of one command in a sandbox. Output is capped and decoded leniently."""

    exit_code: int
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    timed_out: bool = False
    oom_killed: bool = False
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.oom_killed


# ------------------------------------------------------------------------- task records


class TestStatus(Record):
    __test__ = False  # not a pytest test class, despite the name

    test_id: str
    status: Literal["PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL"]


class Candidate(Record):
    """A proposed solution of one task, from generation through grading to selection.

    ``patch`` is a diff (SWE-style) or a program / completion (function and stdin/stdout
    tasks); ``patch_sha`` is :func:`agentlab.scoring.diffs.patch_sha` of it (normalised, so
    two diffs differing only in whitespace or hunk offsets share it); ``test`` is the test
    the trajectory wrote, if any. The store maps it to and from its ``candidate`` row (the
    only conversion): a trajectory makes one without ``id``; what the store gives back has
    the row's ``id``, which selection uses to name it (the vote matrix, options, picks).
    """

    id: int | None = None  # the store's row id; None until stored
    task_id: str
    sample: int = 0
    source: str = ""  # "" for a candidate of this run; run:ID or a file when imported
    patch: str = ""
    patch_sha: str = ""
    test: str | None = None
    status: str = "final"  # final | format_failure | exhausted
    resolved: bool | None = None  # under the hidden tests, once graded
    usd: float = 0.0  # generation dollars the store charged to it (imported ones keep theirs)

    @property
    def stored_id(self) -> int:
        """``id`` of a stored candidate; ValueError for one never stored (it has no name)."""
        if self.id is None:
            raise ValueError(f"candidate {self.task_id} #{self.sample} is not stored: no id")
        return self.id


# ----------------------------------------------------------------------- executor records


class WorkItem(Record):
    """One unit of a run an executor hands to a worker: a (problem, sample) of one run.

    Plain data on purpose: a remote executor ships it to another process, where the worker
    rebuilds what it needs (config, models, sandboxes) from the run id and the store.
    """

    run_id: str
    kind: str
    task_id: str
    sample: int
    attempt: int = 0


class WorkResult(Record):
    """What came of one :class:`WorkItem` (the stored rows hold the details)."""

    run_id: str
    task_id: str
    sample: int
    # budget_exhausted: the run's cap refused work (a remote worker says so; the driver ends
    # the run as if its own ledger had refused).
    status: Literal["done", "error", "capped", "skipped", "budget_exhausted"]
    resolved: bool | None = None
    error: str | None = None
