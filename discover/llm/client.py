"""One chat-completion call through the official ``openai`` client, with our own retry policy.

The SDK's retries are off: a call is retried here, with exponential backoff (and the
server's ``Retry-After`` when it gives one, capped), on 429, 5xx, timeouts and dropped
connections, a few times at most. 401/403/404 and exhausted quotas are *fatal*: retrying
cannot help, so the caller stops calling and says why once. The answer body is kept as raw
text, so that a stored answer decodes exactly as the live one did (see replay.py).
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass

from discover.llm.budget import Usage

FATAL_STATUS = {401: "authentication failed", 403: "access denied", 404: "model or endpoint not found"}


@dataclass(frozen=True)
class Outcome:
    """The result of one logical call, after retries."""

    status: int | None  # HTTP status of the last attempt; None when no answer came (timeout, connection)
    body: str | None  # raw body of a successful answer
    error: str = ""  # short reason when the call failed
    fatal: bool = False  # the endpoint cannot work as configured (bad key, unknown model, no quota)
    attempts: int = 1
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error

    def to_json(self) -> dict:
        return {"status": self.status, "body": self.body, "error": self.error, "fatal": self.fatal,
                "attempts": self.attempts, "seconds": round(self.seconds, 3)}

    @staticmethod
    def from_json(d: dict) -> Outcome:
        return Outcome(status=d.get("status"), body=d.get("body"), error=d.get("error", ""),
                       fatal=bool(d.get("fatal", False)), attempts=int(d.get("attempts", 1)),
                       seconds=float(d.get("seconds", 0.0)))


class AnswerError(ValueError):
    """A 200 answer whose body is not a usable chat completion."""


def decode(body: str) -> tuple[str, Usage]:
    """The answer text and token usage of a raw chat-completion body."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, TypeError):
        raise AnswerError("malformed response: body is not JSON") from None
    usage = Usage.from_response(data)
    try:
        message = data["choices"][0]["message"]
        content = message.get("content") or ""
    except (KeyError, IndexError, TypeError, AttributeError):
        raise AnswerError("malformed response: no choices[0].message") from None
    if not isinstance(content, str):
        raise AnswerError("malformed response: message content is not text")
    return content, usage


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3  # further attempts after the first
    backoff: float = 1.0  # seconds before the first retry, doubled each time (with jitter)
    max_wait: float = 30.0  # cap on one wait, Retry-After included


OPENAI_URL = "https://api.openai.com/v1"  # the default endpoint (an empty $OPENAI_BASE_URL means this too)


class ChatClient:
    """Chat completions against an OpenAI-compatible endpoint.

    ``base_url`` falls back to ``$OPENAI_BASE_URL`` (then OpenAI's own), the key to
    ``$OPENAI_API_KEY`` (a placeholder when unset, which local servers accept).
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None, timeout: float = 120.0,
                 retry: RetryPolicy = RetryPolicy()):
        from openai import OpenAI

        self.key_set = bool(api_key or os.environ.get("OPENAI_API_KEY"))
        self.retry = retry
        self._jitter = random.Random()  # never the global generator: the GP draws from it, and must stay seeded
        self._client = OpenAI(api_key=api_key or os.environ.get("OPENAI_API_KEY") or "no-key",
                              base_url=base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL,
                              timeout=timeout, max_retries=0)
        self.base_url = str(self._client.base_url)

    def complete(self, request: dict) -> Outcome:
        """Send one chat-completion request (``model``, ``messages``, ...), retrying what may pass."""
        import openai

        t0 = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            wait: float | None = None
            try:
                raw = self._client.chat.completions.with_raw_response.create(**request)
                return Outcome(status=raw.status_code, body=raw.text, attempts=attempt, seconds=time.monotonic() - t0)
            except openai.APIStatusError as exc:
                status = exc.status_code
                error = f"HTTP {status}"
                fatal = self._fatal(exc)
                if fatal:
                    return Outcome(status=status, body=None, error=fatal, fatal=True, attempts=attempt,
                                   seconds=time.monotonic() - t0)
                if status != 429 and status < 500:
                    detail = _detail(exc)
                    return Outcome(status=status, body=None, error=f"{error}: {detail}" if detail else error,
                                   attempts=attempt, seconds=time.monotonic() - t0)
                wait = _retry_after(exc)
                status_seen: int | None = status
            except openai.APITimeoutError:
                error, status_seen = "timeout", None
            except openai.APIConnectionError as exc:
                error, status_seen = f"connection error: {_short(str(exc.__cause__ or exc))}", None
            if attempt > self.retry.max_retries:
                return Outcome(status=status_seen, body=None, error=error, attempts=attempt,
                               seconds=time.monotonic() - t0)
            delay = self.retry.backoff * 2 ** (attempt - 1) * (1 + 0.25 * self._jitter.random())
            time.sleep(min(self.retry.max_wait, wait if wait is not None else delay))

    def _fatal(self, exc) -> str:
        status = exc.status_code
        if status in FATAL_STATUS:
            hint = {401: "check OPENAI_API_KEY" + ("" if self.key_set else " (it is not set)"),
                    403: "the key may not have access to this model",
                    404: f"check the model name and the base URL ({self.base_url})"}[status]
            return f"HTTP {status} {FATAL_STATUS[status]}: {hint}"
        if status == 429 and getattr(exc, "code", None) == "insufficient_quota":
            return "HTTP 429 insufficient_quota: the account has no credit left"
        return ""


def _retry_after(exc) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return max(0.0, float(value)) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None


def _detail(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error")
        msg = inner.get("message") if isinstance(inner, dict) else body.get("message")
        if isinstance(msg, str):
            return _short(msg)
    return ""


def _short(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"
