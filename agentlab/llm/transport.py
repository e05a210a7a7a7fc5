"""The HTTP seam under every HTTP backend: one small httpx client per concurrent request.

Why not one client with a big pool: one ``httpx.AsyncClient`` with 64 connections reached only
22% of the ideal throughput at 64 concurrent requests, because httpcore's pool bookkeeping
grows with the number of requests waiting on it. Here each in-flight request checks out a
whole transport (``httpx.AsyncHTTPTransport``, httpx's public seam) that holds a single
keep-alive connection, so no pool ever has a waiter; idle transports are reused last-in
first-out, keeping warm connections warm, and their number grows to the peak concurrency
(bounded by ``max_clients``). Sending through the transport rather than ``AsyncClient.post``
also skips the client's per-request cookie, auth and redirect machinery, which we never use:
about a third less CPU per request. ``benchmarks/llm_fanout.py`` measures this against a
bare httpx loop.

This is the only module that touches httpx errors: everything leaves as an
:mod:`agentlab.errors` type whose message names the endpoint (never the key).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import ssl
import time
from collections import deque
from typing import Any

import httpx

from agentlab.errors import (
    ContextOverflowError,
    FatalLLMError,
    LLMTimeoutError,
    MalformedResponseError,
    RateLimitedError,
    RetryableLLMError,
)
from agentlab.llm.overflow import context_overflow

_SSL_CONTEXT: ssl.SSLContext | None = None

# Statuses worth another try: request timeout, conflict, rate limit, server errors, and
# Anthropic's 529 "overloaded".
_RETRYABLE = {408, 409, 425, 429, 500, 502, 503, 504, 529}


def _ssl_context() -> ssl.SSLContext:
    # Building an SSL context loads the CA bundle (tens of ms); share one across clients.
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = ssl.create_default_context()
    return _SSL_CONTEXT


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _snippet(response: httpx.Response) -> str:
    try:
        body = response.json()
        err = body.get("error", body) if isinstance(body, dict) else body
        msg = err.get("message", err) if isinstance(err, dict) else err
        text = str(msg)
    except ValueError:
        text = response.text
    text = " ".join(text.split())
    return text[:200]


def _overflow(response: httpx.Response) -> tuple[int | None, int | None] | None:
    try:
        body = response.json()
    except ValueError:
        body = None
    return context_overflow(body, response.text)


class HttpPool:
    """POSTs JSON to one endpoint; each request holds one single-connection client."""

    def __init__(
        self,
        *,
        endpoint: str,
        base_url: str,
        headers: dict[str, str],
        timeout_s: float,
        connect_timeout_s: float,
        max_clients: int = 64,
        key_hint: str = "",
        secret: str = "",
    ) -> None:
        self.endpoint = endpoint
        self.base_url = base_url.rstrip("/")
        self._key_hint = key_hint
        self._secret = secret  # scrubbed from any server text we quote
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "agentlab",
            **headers,
        }
        self._extensions = {
            "timeout": httpx.Timeout(timeout_s, connect=connect_timeout_s).as_dict()
        }
        self._urls: dict[str, httpx.URL] = {}
        self._max = max_clients
        self._all: list[httpx.AsyncHTTPTransport] = []
        self._idle: list[httpx.AsyncHTTPTransport] = []
        self._waiters: deque[asyncio.Future[httpx.AsyncHTTPTransport]] = deque()

    def _new_client(self) -> httpx.AsyncHTTPTransport:
        client = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            verify=_ssl_context(),
        )
        self._all.append(client)
        return client

    async def _checkout(self) -> httpx.AsyncHTTPTransport:
        if self._idle:
            return self._idle.pop()
        if len(self._all) < self._max:
            return self._new_client()
        fut: asyncio.Future[httpx.AsyncHTTPTransport] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._checkin(fut.result())  # handed a client just as we were cancelled
            else:
                self._waiters.remove(fut)
            raise

    def _checkin(self, client: httpx.AsyncHTTPTransport) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(client)
                return
        self._idle.append(client)

    async def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` and return the decoded JSON object, or raise a mapped error."""
        client = await self._checkout()
        try:
            response = await self._post(client, path, body)
        finally:
            self._checkin(client)
        if response.status_code >= 400:
            raise self._status_error(response, f"{self.base_url}{path}", body.get("model", ""))
        try:
            data = json.loads(response.content)
        except ValueError as exc:
            raise MalformedResponseError(
                f"endpoint {self.endpoint} ({self.base_url}{path}): reply is not JSON: "
                f"{response.text[:120]!r}",
                endpoint=self.endpoint,
                status=response.status_code,
            ) from exc
        if not isinstance(data, dict):
            raise MalformedResponseError(
                f"endpoint {self.endpoint} ({self.base_url}{path}): reply is not a JSON object",
                endpoint=self.endpoint,
                status=response.status_code,
            )
        return data

    async def _post(
        self, client: httpx.AsyncHTTPTransport, path: str, body: dict[str, Any]
    ) -> httpx.Response:
        url = f"{self.base_url}{path}"
        if path not in self._urls:
            self._urls[path] = httpx.URL(url)  # parsed once: URL parsing is not cheap
        request = httpx.Request(
            "POST",
            self._urls[path],
            headers=self._headers,
            content=json.dumps(body).encode(),
            extensions=self._extensions,
        )
        try:
            response = await client.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
            return response
        except httpx.TimeoutException as exc:
            raise LLMTimeoutError(
                f"endpoint {self.endpoint} ({url}): request timed out ({type(exc).__name__})",
                endpoint=self.endpoint,
            ) from exc
        except httpx.TransportError as exc:
            raise RetryableLLMError(
                f"endpoint {self.endpoint} ({url}): connection failed ({type(exc).__name__}: "
                f"{exc}); is the server running?",
                endpoint=self.endpoint,
            ) from exc

    def _status_error(self, response: httpx.Response, url: str, model: str) -> Exception:
        status = response.status_code
        where = f"endpoint {self.endpoint} ({url}): HTTP {status}"
        detail = _snippet(response)
        if self._secret:
            detail = detail.replace(self._secret, "***")  # servers may echo the key they got
        if status == 429:
            wait = parse_retry_after(response.headers)
            return RateLimitedError(
                f"{where} rate limited: {detail}",
                endpoint=self.endpoint,
                status=status,
                retry_after=wait,
            )
        if status in _RETRYABLE:
            return RetryableLLMError(
                f"{where}: {detail}",
                endpoint=self.endpoint,
                status=status,
                retry_after=parse_retry_after(response.headers),
            )
        overflow = _overflow(response) if status in (400, 413) else None
        if overflow is not None:
            prompt, window = overflow
            return ContextOverflowError(
                f"{where}: the prompt does not fit the model's context window: {detail}",
                endpoint=self.endpoint,
                status=status,
                prompt_tokens=prompt,
                context_tokens=window,
            )
        if status in (401, 403):
            cause = f"bad or missing API key{self._key_hint}"
        elif status == 404:
            cause = f"unknown model {model!r} or wrong base_url"
        else:
            cause = "the endpoint rejected the request"
        return FatalLLMError(f"{where}: {cause}: {detail}", endpoint=self.endpoint, status=status)

    async def aclose(self) -> None:
        """Close every client; safe to call twice."""
        clients, self._all, self._idle = self._all, [], []
        for client in clients:
            await client.aclose()
