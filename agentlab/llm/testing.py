"""An OpenAI-compatible (and Anthropic Messages) HTTP server on 127.0.0.1, scripted.

Product code for tests, benchmarks and demos: real sockets, HTTP/1.1 keep-alive, a small
asyncio server in a background thread with its own loop, so sync and async code can both use
it as a context manager::

    model = ScriptedModel([Rule(user="add", replies=("def add(a, b): return a + b",))])
    with ScriptedServer(model, latency_s=0.05) as server:
        ...  # point an OpenAIEndpoint at server.base_url
        assert len(server.requests) == 1

Scripted tool calls (``Rule.tool_calls``) are served in both wire formats (see
:mod:`agentlab.llm.scripted_wire`). Faults queued on the model (:class:`Fault`) come back as
real HTTP: 429 with Retry-After,
500, a hang, malformed JSON, nonsense usage, 401, 404. Every request is logged
(:attr:`ScriptedServer.requests`) so tests can count what the server saw. A model with
``context_tokens`` refuses a prompt that reaches it with llama-cpp-python's reply: HTTP 400,
``{"error": {"message": "This model's maximum context length is ...", "type":
"invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}``.

``python -m agentlab.llm.testing --latency 0.2`` runs it standalone (prints ``PORT <n>``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pydantic import ValidationError

from agentlab.llm.scripted import Fault, Rule, ScriptedModel
from agentlab.llm.scripted_wire import (
    PromptCache,
    anthropic_body,
    anthropic_request,
    openai_body,
    openai_request,
    with_cache_usage,
)
from agentlab.types import ChatRequest

__all__ = ["Fault", "LoggedRequest", "Rule", "ScriptedModel", "ScriptedServer"]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


@dataclass
class LoggedRequest:
    """What the server saw: arrival time, path, decoded request, auth header, reply status.

    Logged on arrival; ``status`` is 0 until a reply is sent (so a hung request shows as 0).
    """

    at: float
    path: str
    request: ChatRequest | None
    auth: str
    status: int
    body: Any = None  # the decoded JSON body as sent (None if it was not JSON)


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def _json_reply(status: int, obj: Any, *headers: tuple[str, str]) -> _Reply:
    return _Reply(status, json.dumps(obj).encode(), headers)


def _error(status: int, message: str, code: str) -> _Reply:
    return _json_reply(status, {"error": {"message": message, "type": code, "code": code}})


class ScriptedServer:
    """The scripted model behind real HTTP on 127.0.0.1. Start with ``with`` / ``async with``."""

    def __init__(
        self,
        model: ScriptedModel | None = None,
        *,
        latency_s: float | None = None,
        port: int = 0,
        api_key: str | None = None,
        known_models: tuple[str, ...] | None = None,
    ) -> None:
        self.model = model or ScriptedModel()
        if latency_s is not None:
            self.model.latency_s = latency_s
        self.api_key = api_key
        self.known_models = known_models
        self.port = port
        self._log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.prompt_cache = PromptCache()  # Anthropic-style prefixes marked cache_control

    # -- public -----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """OpenAI-style base URL (ends in /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        """Server root, for Anthropic-style clients that append /v1/messages."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[LoggedRequest]:
        """A snapshot of every request received so far."""
        with self._lock:
            return list(self._log)

    def start(self) -> ScriptedServer:
        """Start serving in a background thread; returns once the port is bound."""
        self._thread = threading.Thread(target=self._run, name="scripted-server", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._failure is not None:
            raise self._failure
        return self

    def stop(self) -> None:
        """Stop serving, cancel hanging handlers and join the thread."""
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> ScriptedServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- serving ----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced to start() instead of dying silently
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connection, "127.0.0.1", self.port, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while await self._one_exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping; ending quietly keeps asyncio from logging it
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _one_exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        try:
            # One read for the whole head: far fewer awaits than a readline per header.
            head_bytes = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise
            return False  # the client closed an idle keep-alive connection
        request_line, *lines = head_bytes.decode("latin-1").split("\r\n")
        method, path = request_line.split(" ")[:2]
        headers: dict[str, str] = {}
        for raw in lines:
            key, _, value = raw.partition(":")
            if key:
                headers[key.strip().lower()] = value.strip()
        size = int(headers.get("content-length", "0"))
        body = await reader.readexactly(size) if size else b""
        reply = await self._handle(method, path.split("?")[0], headers, body)
        head = [
            f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}",
            "Content-Type: application/json",
            f"Content-Length: {len(reply.body)}",
        ]
        head += [f"{k}: {v}" for k, v in reply.headers]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + reply.body)
        await writer.drain()
        return headers.get("connection", "").lower() != "close"

    def _arrived(
        self, path: str, request: ChatRequest | None, auth: str, body: Any = None
    ) -> LoggedRequest:
        entry = LoggedRequest(time.monotonic(), path, request, auth, 0, body)
        with self._lock:
            self._log.append(entry)
        return entry

    async def _handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> _Reply:
        if method == "GET" and path.rstrip("/").endswith("/models"):
            names = self.known_models or ("scripted",)
            return _json_reply(
                200,
                {
                    "object": "list",
                    "data": [{"id": n, "object": "model", "owned_by": "agentlab"} for n in names],
                },
            )
        anthropic = path.endswith("/messages")
        if method != "POST" or not (anthropic or path.endswith("/chat/completions")):
            return _error(404, f"no route {method} {path}", "not_found")
        auth = headers.get("x-api-key", "") if anthropic else headers.get("authorization", "")
        try:
            body = json.loads(raw)
            request = anthropic_request(body) if anthropic else openai_request(body)
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            self._arrived(path, None, auth).status = 400
            return _error(400, f"bad request: {exc}", "invalid")
        entry = self._arrived(path, request, auth, body)
        cache = self.prompt_cache.usage(body) if anthropic else (0, 0)
        reply = await self._answer(request, auth, anthropic, cache)
        entry.status = reply.status
        return reply

    async def _answer(
        self, request: ChatRequest, auth: str, anthropic: bool, cache: tuple[int, int] = (0, 0)
    ) -> _Reply:
        expected = self.api_key if anthropic else f"Bearer {self.api_key}"
        if self.api_key is not None and auth != expected:
            # Echo the key back, as some providers do, so tests can check it gets scrubbed.
            key = auth.removeprefix("Bearer ")
            return _error(401, f"Incorrect API key provided: {key}", "invalid_api_key")
        if self.known_models is not None and request.model not in self.known_models:
            return _error(404, f"The model '{request.model}' does not exist", "model_not_found")
        fault = self.model.take_fault(request)
        if fault is not None and fault.kind not in ("bad_usage", "malformed"):
            return await self._fault_reply(fault)
        refusal = self.model.overflow(request)
        if refusal is not None:
            error = {"message": str(refusal), "type": "invalid_request_error", "param": "messages"}
            return _json_reply(400, {"error": {**error, "code": "context_length_exceeded"}})
        if self.model.latency_s:
            await asyncio.sleep(self.model.latency_s)
        if fault is not None and fault.kind == "malformed":
            return _Reply(200, b'{"choices": [{"message": {"content": "trunc')
        response = with_cache_usage(self.model.reply(request), *cache)
        render = anthropic_body if anthropic else openai_body
        bad_usage = fault is not None and fault.kind == "bad_usage"
        return _json_reply(200, render(response, next(self._serial), bad_usage))

    async def _fault_reply(self, fault: Fault) -> _Reply:
        if fault.kind == "rate_limit":
            extra = (
                () if fault.retry_after is None else (("Retry-After", f"{fault.retry_after:g}"),)
            )
            return _json_reply(
                429, {"error": {"message": "Rate limit reached", "type": "rate"}}, *extra
            )
        if fault.kind == "server_error":
            return _error(500, "The server had an error", "server_error")
        if fault.kind == "hang":
            await asyncio.sleep(fault.hang_s)
            return _error(500, "hung", "server_error")
        if fault.kind == "unauthorized":
            return _error(401, "Incorrect API key provided", "invalid_api_key")
        return _error(404, "The model does not exist", "model_not_found")


def main(argv: list[str] | None = None) -> None:
    """Serve the scripted model until stdin closes (used by the benchmark's server process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="Seconds per reply.")
    parser.add_argument("--default", default="OK", help="Reply text.")
    args = parser.parse_args(argv)
    with ScriptedServer(
        ScriptedModel(default=args.default, latency_s=args.latency), port=args.port
    ) as server:
        print(f"PORT {server.port}", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
