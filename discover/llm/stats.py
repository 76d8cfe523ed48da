"""Counters of a run's LLM use (calls, errors, tokens, proposals, rejections) and their text."""

from __future__ import annotations

from collections import Counter, deque

from discover.llm.budget import Budget
from discover.llm.parse_answer import Rejection

EXAMPLES = 10  # rejected answers kept verbatim (with their reason) in the summary
REASONS = 12  # distinct rejection reasons kept in the summary, most frequent first


class LLMStats:
    """Counted in the search's thread as answers are delivered."""

    def __init__(self, model: str, replay: bool = False):
        self.model, self.replay = model, replay
        self.calls = self.failed = self.retries = self.proposed = self.rejected = 0
        self.answers_without_usage = self.diverged = 0
        self.errors: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.examples: deque[Rejection] = deque(maxlen=EXAMPLES)
        self.stopped = ""

    def call(self, attempts: int, error: str = "") -> None:
        self.calls += 1
        self.retries += max(0, attempts - 1)
        if error:
            self.failed += 1
            self.errors[error.split(":")[0]] += 1

    def reject(self, rejection: Rejection) -> None:
        self.rejected += 1
        self.reasons[rejection.reason] += 1
        self.examples.append(rejection)

    def as_dict(self, budget: Budget) -> dict:
        return {
            "model": self.model, "replay": self.replay, "calls": self.calls, "failed_calls": self.failed,
            "retries": self.retries, "errors": dict(self.errors.most_common()), **budget.as_dict(),
            "answers_without_usage": self.answers_without_usage, "proposed": self.proposed, "rejected": self.rejected,
            "rejection_reasons": dict(self.reasons.most_common(REASONS)),
            "rejected_examples": [{"text": r.text, "reason": r.reason} for r in self.examples],
            "stopped": self.stopped, "replay_diverged": self.diverged,
        }


def describe(stats: dict, frontier_laws: int | None = None) -> list[str]:
    """Lines for the terminal: what the LLM cost and gave."""
    usd = stats.get("usd")
    cost = f", ${usd:.4f}" if isinstance(usd, (int, float)) else ""
    errors = ", ".join(f"{k} ×{v}" for k, v in stats.get("errors", {}).items())
    lines = [
        f"LLM {stats.get('model', '?')}{' (replayed)' if stats.get('replay') else ''}: {stats.get('calls', 0)} calls"
        f" ({stats.get('failed_calls', 0)} failed{': ' + errors if errors else ''}; {stats.get('retries', 0)} retries),"
        f" {stats.get('total_tokens', 0):,} tokens ({stats.get('prompt_tokens', 0):,} prompt +"
        f" {stats.get('completion_tokens', 0):,} completion){cost}",
        f"  {stats.get('proposed', 0)} formulas accepted, {stats.get('rejected', 0)} rejected"
        + (f"; {frontier_laws} frontier law(s) from the LLM" if frontier_laws is not None else ""),
    ]
    for reason, count in list(stats.get("rejection_reasons", {}).items())[:5]:
        lines.append(f"  rejected ×{count}: {reason}")
    if stats.get("stopped"):
        lines.append(f"  LLM calls stopped: {stats['stopped']}")
    return lines
