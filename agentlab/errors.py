"""Every error agentlab raises on purpose, in one tree.

Third-party errors (docker, httpx, sqlalchemy, psycopg) are mapped to these at the module that
owns the SDK (``raise Mapped(...) from exc``); nothing above that module sees a foreign type.
Where a built-in fits, the subclass inherits it too, so ``except TimeoutError`` still works.

    AgentlabError
    ├── ConfigError(ValueError)            a config, CLI option or YAML file is invalid
    ├── DatasetError(ValueError)           a dataset, instance or predictions file is malformed
    ├── SandboxError                       anything the sandbox layer cannot do
    │   ├── SandboxUnavailableError        no engine answers / image missing / cannot start
    │   ├── CommandTimeoutError(TimeoutError)  an exec ran past its wall-clock limit
    │   └── SandboxDiedError               the container vanished or the engine failed mid-exec
    ├── LLMError                           anything the LLM layer cannot do
    │   ├── RetryableLLMError              429 / 5xx / timeout / connection error (retried)
    │   │   ├── RateLimitedError           429, carries Retry-After
    │   │   └── LLMTimeoutError(TimeoutError)
    │   ├── FatalLLMError                  400/401/403/404: fails fast, names endpoint and cause
    │   │   └── ContextOverflowError       the prompt does not fit the model's context window
    │   └── MalformedResponseError         the endpoint answered with something unparseable
    ├── BudgetExceededError                a call or a sample would pass the run's hard cap
    ├── ScopeBudgetExceededError           ... or one problem's cap (stops that problem only)
    ├── StoreError                         the result store failed
    │   └── ReadOnlyViolationError(PermissionError)  a write through ``agentlab sql``
    └── ReplyFormatError(ValueError)       a model reply does not follow the requested format

Infrastructure failures are the ``SandboxError`` / ``RetryableLLMError`` / ``StoreError``
branches: the coordinator and the evaluator retry them and report them as errors, never as a
model's failure.
"""

from __future__ import annotations


class AgentlabError(Exception):
    """Root of every error agentlab raises on purpose."""


class ConfigError(AgentlabError, ValueError):
    """A config, CLI option or YAML file is invalid. The message names the key."""


class DatasetError(AgentlabError, ValueError):
    """A dataset, instance or predictions file is malformed. The message names the item."""


class SandboxError(AgentlabError):
    """The sandbox layer could not do what was asked."""


class SandboxUnavailableError(SandboxError):
    """No engine answers, an image is missing, or a sandbox cannot be started."""


class CommandTimeoutError(SandboxError, TimeoutError):
    """An exec ran past its wall-clock timeout and its process tree was killed."""


class SandboxDiedError(SandboxError):
    """The sandbox vanished or the engine failed while a command ran."""


class LLMError(AgentlabError):
    """The LLM layer could not get an answer."""

    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status


class RetryableLLMError(LLMError):
    """A transient failure: retried with backoff by the client wrapper."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status=status)
        self.retry_after = retry_after


class RateLimitedError(RetryableLLMError):
    """HTTP 429: the endpoint asks us to slow down."""


class LLMTimeoutError(RetryableLLMError, TimeoutError):
    """The request took longer than its timeout."""


class FatalLLMError(LLMError):
    """A request that will never succeed as sent (bad key, unknown model, bad request)."""


class ContextOverflowError(FatalLLMError):
    """The endpoint refused the prompt as longer than the model's context window.

    Carries what the server said, when it said it: ``prompt_tokens`` (the prompt as the
    model counts it) and ``context_tokens`` (its window). Never retried as sent; the
    caller may shorten the prompt (the agent loop does) or end the sample.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        status: int | None = None,
        prompt_tokens: int | None = None,
        context_tokens: int | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status=status)
        self.prompt_tokens = prompt_tokens
        self.context_tokens = context_tokens


class MalformedResponseError(LLMError):
    """The endpoint answered, but not with a response we can read."""


class BudgetExceededError(AgentlabError):
    """A call or a sample would pass the hard budget cap. Carries what was already spent."""

    def __init__(
        self, message: str, *, spent_usd: float, cap_usd: float, requested_usd: float = 0.0
    ) -> None:
        super().__init__(message)
        self.spent_usd = spent_usd
        self.cap_usd = cap_usd
        self.requested_usd = requested_usd


class ScopeBudgetExceededError(AgentlabError):
    """One problem's cap (``budget.per_task_usd``) would be passed: stop that problem, not the run.

    Not a :class:`BudgetExceededError`, so the coordinator's handler for the run's cap never
    ends a run because one problem ran out.
    """

    def __init__(
        self,
        message: str,
        *,
        scope: str,
        spent_usd: float,
        cap_usd: float,
        requested_usd: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.scope = scope
        self.spent_usd = spent_usd
        self.cap_usd = cap_usd
        self.requested_usd = requested_usd


class StoreError(AgentlabError):
    """The result store failed."""


class ReadOnlyViolationError(StoreError, PermissionError):
    """A statement given to the read-only SQL interface would write."""


class ReplyFormatError(AgentlabError, ValueError):
    """A model reply does not follow the requested format."""
