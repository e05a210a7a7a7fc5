"""The HTTP seam under every HTTP backend: a few httpx clients, and error mapping.

Why several clients: one ``httpx.AsyncClient`` with a 64-connection pool reached only 22% of
the ideal throughput at 64 concurrent requests, because httpcore's pool bookkeeping grows with
the number of waiting requests. Spreading requests over a handful of small clients keeps each
pool short; ``benchmarks/llm_fanout.py`` measures the difference.

This is the only module that touches httpx errors: everything leaves as an
:mod:`agentlab.errors` type whose message names the endpoint (never the key).
"""

from __future__ import annotations

import email.utils
import itertools
import json
import ssl
import time
from typing import Any

import httpx

from agentlab.errors import (
    FatalLLMError,
    LLMTimeoutError,
    MalformedResponseError,
    RateLimitedError,
    RetryableLLMError,
)

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


class HttpPool:
    """POSTs JSON to one endpoint over ``clients`` httpx clients, round-robin."""

    def __init__(
        self,
        *,
        endpoint: str,
        base_url: str,
        headers: dict[str, str],
        timeout_s: float,
        connect_timeout_s: float,
        clients: int = 8,
        connections_per_client: int = 8,
        key_hint: str = "",
    ) -> None:
        self.endpoint = endpoint
        self.base_url = base_url.rstrip("/")
        self._key_hint = key_hint
        timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        limits = httpx.Limits(
            max_connections=connections_per_client,
            max_keepalive_connections=connections_per_client,
        )
        self._clients = [
            httpx.AsyncClient(
                base_url=self.base_url,
                headers=headers,
                timeout=timeout,
                limits=limits,
                verify=_ssl_context(),
                trust_env=False,
            )
            for _ in range(clients)
        ]
        self._next = itertools.cycle(self._clients)

    async def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` and return the decoded JSON object, or raise a mapped error."""
        client = next(self._next)
        url = f"{self.base_url}{path}"
        try:
            response = await client.post(path, json=body)
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
        if response.status_code >= 400:
            raise self._status_error(response, url, body.get("model", ""))
        try:
            data = json.loads(response.content)
        except ValueError as exc:
            raise MalformedResponseError(
                f"endpoint {self.endpoint} ({url}): reply is not JSON: {response.text[:120]!r}",
                endpoint=self.endpoint,
                status=response.status_code,
            ) from exc
        if not isinstance(data, dict):
            raise MalformedResponseError(
                f"endpoint {self.endpoint} ({url}): reply is JSON but not an object",
                endpoint=self.endpoint,
                status=response.status_code,
            )
        return data

    def _status_error(self, response: httpx.Response, url: str, model: str) -> Exception:
        status = response.status_code
        where = f"endpoint {self.endpoint} ({url}): HTTP {status}"
        detail = _snippet(response)
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
        if status in (401, 403):
            cause = f"bad or missing API key{self._key_hint}"
        elif status == 404:
            cause = f"unknown model {model!r} or wrong base_url"
        else:
            cause = "the endpoint rejected the request"
        return FatalLLMError(f"{where}: {cause}: {detail}", endpoint=self.endpoint, status=status)

    async def aclose(self) -> None:
        """Close every client; safe to call twice."""
        for client in self._clients:
            await client.aclose()
