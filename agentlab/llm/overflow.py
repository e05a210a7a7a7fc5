"""Recognising a context-window refusal in an endpoint's error reply, and reading its numbers.

Servers say it differently, all with HTTP 400 (413 on some proxies):

- llama-cpp-python (``python -m llama_cpp.server``, the local model): code
  ``context_length_exceeded``, "This model's maximum context length is 2048 tokens. However,
  you requested 2344 tokens (2088 in the messages, 256 in the completion)..." (it refuses when
  the prompt alone reaches the window; it shortens ``max_tokens`` otherwise);
- llama.cpp's own server: type ``exceed_context_size_error`` with ``n_prompt_tokens`` and
  ``n_ctx`` fields;
- OpenAI and vLLM: code ``context_length_exceeded`` / "maximum context length is N tokens";
- Anthropic: "prompt is too long: 210000 tokens > 200000 maximum".

A reply that matches none of these stays an ordinary :class:`FatalLLMError`.
"""

from __future__ import annotations

import re
from typing import Any

_CODES = {"context_length_exceeded", "exceed_context_size_error"}
_SAYS_OVERFLOW = re.compile(
    r"maximum context length|context window|context size|context length exceeded"
    r"|prompt is too long|input is too long",
    re.IGNORECASE,
)
_WINDOW = (
    re.compile(r"maximum context length is (\d+)", re.IGNORECASE),
    re.compile(r"context window of (\d+)", re.IGNORECASE),
    re.compile(r"available context size \((\d+)", re.IGNORECASE),
    re.compile(r"tokens > (\d+) maximum", re.IGNORECASE),
)
_PROMPT = (
    re.compile(r"\((\d+) in the messages", re.IGNORECASE),
    re.compile(r"(\d+) input tokens", re.IGNORECASE),
    re.compile(r"prompt is too long: (\d+) tokens", re.IGNORECASE),
    re.compile(r"request \((\d+) tokens\)", re.IGNORECASE),
    re.compile(r"Requested tokens \((\d+)\)", re.IGNORECASE),
)


def _first(patterns: tuple[re.Pattern[str], ...], text: str) -> int | None:
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return int(found.group(1))
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def context_overflow(body: Any, text: str) -> tuple[int | None, int | None] | None:
    """``(prompt_tokens, context_tokens)`` if an error reply says the prompt is too long.

    ``body`` is the decoded JSON reply (anything, if it was not JSON), ``text`` its raw text.
    Either number is None when the server did not give it.
    """
    error = body.get("error", body) if isinstance(body, dict) else {}
    error = error if isinstance(error, dict) else {}
    message = str(error.get("message", "")) or text
    labels = {str(error.get("code", "")), str(error.get("type", ""))}
    if not (labels & _CODES or _SAYS_OVERFLOW.search(message)):
        return None
    prompt = _int(error.get("n_prompt_tokens")) or _first(_PROMPT, message)
    window = _int(error.get("n_ctx")) or _first(_WINDOW, message)
    return prompt, window
