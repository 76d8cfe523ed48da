"""Token and money accounting for LLM calls, and the limits that stop them.

Tokens come from the ``usage`` field of each answer. Prices are USD per million tokens,
``{"model": {"input": x, "output": y}}``; a model is priced by its exact name, else by the
longest known prefix (``gpt-4o-2024-08-06`` is priced as ``gpt-4o``). Users can add or
override prices with a JSON file of the same shape.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from discover.errors import UserError

# USD per 1M tokens (input, output), list prices of common OpenAI models.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.0),
    "gpt-4o-mini": (0.15, 0.60),
    "o3": (2.0, 8.0),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
}


@dataclass(frozen=True)
class Usage:
    """Tokens of one call, as the API reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reported: bool = True  # False when the answer had no usage field

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @staticmethod
    def from_response(body: object) -> Usage:
        """Usage of a decoded chat-completion body (zeros, unreported, when missing or malformed)."""
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict):
            return Usage(reported=False)
        p, c = usage.get("prompt_tokens"), usage.get("completion_tokens")
        ok = [isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (p, c)]
        if not all(ok):
            return Usage(reported=False)
        return Usage(prompt_tokens=p, completion_tokens=c)


@dataclass(frozen=True)
class Price:
    """USD per million input and output tokens."""

    input: float
    output: float

    def cost(self, usage: Usage) -> float:
        return (usage.prompt_tokens * self.input + usage.completion_tokens * self.output) / 1e6


def load_prices(path: str | Path | None = None) -> dict[str, Price]:
    """The default price table, updated with the user's JSON file if given."""
    prices = {k: Price(*v) for k, v in DEFAULT_PRICES.items()}
    if path is None:
        return prices
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"--llm-prices {path}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise UserError(f"--llm-prices {path}: expected an object of models, "
                        "each {\"input\": USD, \"output\": USD} per 1M tokens")
    for model, entry in data.items():
        if not (isinstance(entry, dict) and all(_number(entry.get(k)) for k in ("input", "output"))):
            raise UserError(f"--llm-prices {path}: {model!r} needs numbers 'input' and 'output' (USD per 1M tokens)")
        prices[str(model)] = Price(float(entry["input"]), float(entry["output"]))
    return prices


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


def price_for(model: str, prices: dict[str, Price]) -> Price | None:
    """The price of ``model``: exact name, else the longest matching prefix, else None."""
    if model in prices:
        return prices[model]
    hits = [k for k in prices if model.startswith(k + "-") or model.startswith(k + ":")]
    return prices[max(hits, key=len)] if hits else None


class Budget:
    """Running totals of one run's LLM use, and whether another call may start.

    A call may start while the spent amount plus the expected cost of the calls already in
    flight (their average so far) stays under each limit, so concurrent calls overshoot a
    limit by at most about one call. Thread-safe.
    """

    def __init__(self, max_tokens: int | None = None, max_usd: float | None = None, price: Price | None = None):
        if max_usd is not None and price is None:
            raise UserError("--llm-budget-usd needs a price for the model: give --llm-prices FILE "
                            "(JSON: {\"model\": {\"input\": USD, \"output\": USD}} per 1M tokens)")
        self.max_tokens, self.max_usd, self.price = max_tokens, max_usd, price
        self.prompt_tokens = self.completion_tokens = self.calls = 0
        self.usd = 0.0
        self._lock = threading.Lock()

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, usage: Usage) -> None:
        with self._lock:
            self.calls += 1
            self.prompt_tokens += usage.prompt_tokens
            self.completion_tokens += usage.completion_tokens
            if self.price is not None:
                self.usd += self.price.cost(usage)

    def exhausted(self, in_flight: int = 0) -> str | None:
        """Why no further call may start, or None."""
        with self._lock:
            n = max(self.calls, 1)
            if self.max_tokens is not None:
                expected = self.total_tokens + in_flight * self.total_tokens / n
                if expected >= self.max_tokens:
                    return f"token budget reached ({self.total_tokens:,} of {self.max_tokens:,} tokens)"
            if self.max_usd is not None:
                expected = self.usd + in_flight * self.usd / n
                if expected >= self.max_usd:
                    return f"money budget reached (${self.usd:.4f} of ${self.max_usd:g})"
        return None

    def as_dict(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.total_tokens, "usd": round(self.usd, 6) if self.price is not None else None,
                "max_tokens": self.max_tokens, "max_usd": self.max_usd}
