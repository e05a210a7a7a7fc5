"""A metering OpenAI-compatible proxy for agents that bring their own loop (first piece).

An external agent speaks the OpenAI chat API to this proxy; the proxy forwards each call
through the run's :class:`~agentlab.llm.LLMClient` (retries, cache, the run's hard budget,
one ``llm_call`` row per call), so the agent is metered and capped like agentlab's own loop.
It serves ``GET /v1/models`` and ``POST /v1/chat/completions`` (tool calls included) on its
own event loop's task, HTTP/1.1 with keep-alive.

Guarantees: a request without the proxy's bearer token is refused (401) and never forwarded;
once the problem's dollars (``cap_usd``) would be passed by a call's worst case, or the run's
ledger refuses it, the call is refused with HTTP 402 and an error naming the cap, and never
reaches the endpoint. With ``socket_path`` it listens on a Unix socket only (no TCP port at
all), which the Docker backend relays onto one sandbox's private network
(``SandboxSpec.proxy_socket``); the ``external`` kind wires the two (docs/agent.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from pydantic import ValidationError

from agentlab.agent.loop import ToolModel
from agentlab.errors import BudgetExceededError, LLMError
from agentlab.llm.budget import prompt_token_ceiling
from agentlab.llm.scripted_wire import openai_body, openai_request
from agentlab.types import CallContext

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required",
            404: "Not Found", 502: "Bad Gateway"}  # fmt: skip


def _error(status: int, message: str, kind: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": kind, "code": kind}}


@dataclass
class ProxyStats:
    """What the proxy did: forwarded calls, refusals, dollars, and its own time per call."""

    calls: int = 0
    refused: int = 0
    usd: float = 0.0
    own_s: list[float] = field(default_factory=list)  # per call: wall minus model time


class MeteringProxy:
    """Serve ``client`` to one external agent; use as ``async with``."""

    def __init__(
        self,
        client: ToolModel,
        *,
        context: CallContext,
        cap_usd: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        socket_path: str | None = None,
    ) -> None:
        self.client = client
        self.context = context
        self.cap_usd = cap_usd
        self.host, self.port = host, port
        self.token = token or secrets.token_hex(16)
        self.socket_path = socket_path  # serve on this Unix socket instead of host:port
        self.stats = ProxyStats()
        self._server: asyncio.Server | None = None
        self._serial = 0

    @property
    def base_url(self) -> str:
        """What the agent sets as its OpenAI base URL (with ``token`` as its API key)."""
        return f"http://{self.host}:{self.port}/v1"

    async def __aenter__(self) -> MeteringProxy:
        if self.socket_path is not None:
            self._server = await asyncio.start_unix_server(self._connection, self.socket_path)
            return self
        self._server = await asyncio.start_server(self._connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed the connection
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, path = request_line.split(" ")[:2]
                headers = {}
                for raw in lines:
                    key, _, value = raw.partition(":")
                    if key:
                        headers[key.strip().lower()] = value.strip()
                size = int(headers.get("content-length", "0"))
                body = await reader.readexactly(size) if size else b""
                status, payload = await self._handle(method, path.split("?")[0], headers, body)
                data = json.dumps(payload).encode()
                reason = _REASONS.get(status, "Status")
                writer.write(
                    f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            return
        finally:
            writer.close()

    async def _handle(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any]]:
        if headers.get("authorization", "") != f"Bearer {self.token}":
            self.stats.refused += 1
            return _error(401, "agentlab proxy: missing or wrong API key", "invalid_api_key")
        if method == "GET" and path.rstrip("/").endswith("/models"):
            return 200, {"object": "list", "data": [{"id": self.client.model, "object": "model"}]}
        if method != "POST" or not path.endswith("/chat/completions"):
            return _error(404, f"agentlab proxy: no route {method} {path}", "not_found")
        try:
            request = openai_request(json.loads(raw)).model_copy(
                update={"model": self.client.model}
            )
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            return _error(400, f"agentlab proxy: bad request ({exc})", "invalid_request")
        return await self._forward(request)

    async def _forward(self, request: Any) -> tuple[int, dict[str, Any]]:
        started = time.perf_counter()
        if self.cap_usd is not None:
            worst = self.client.price.ceiling(
                prompt_token_ceiling(request), request.max_tokens * request.n
            )
            if self.stats.usd + worst > self.cap_usd:
                self.stats.refused += 1
                return _error(
                    402,
                    f"agentlab proxy: this problem's budget of ${self.cap_usd:g} is spent "
                    f"(${self.stats.usd:.4f} so far; this call could cost ${worst:.4f})",
                    "budget_exceeded",
                )
        context = self.context.model_copy(update={"step": self.stats.calls})
        try:
            response = await self.client.generate(request, context)
        except BudgetExceededError as exc:
            self.stats.refused += 1
            return _error(402, f"agentlab proxy: {exc}", "budget_exceeded")
        except LLMError as exc:
            return _error(502, f"agentlab proxy: upstream failed: {exc}", "upstream_error")
        self.stats.calls += 1
        self.stats.usd += self.client.price.cost(response.usage).usd
        self._serial += 1
        body = openai_body(response, self._serial, False)
        self.stats.own_s.append(time.perf_counter() - started - response.latency_s)
        return 200, body
