"""The LLM as a proposer in the search: calls run in background threads while the GP works.

Each generation the search asks for up to ``n`` candidates. The proposer hands over the
formulas of answers that have arrived (parsed by the whitelist parser; origin ``"llm"``,
parents = the frontier laws shown in the prompt) and starts new calls, up to
``concurrency`` at a time, with a prompt built from the current frontier, recent failures
and its own rejected formulas. It never waits for the network.

Calls stop for good on a fatal error (bad key, unknown model, no quota) or when a budget is
reached, with one message each; after a few failed calls in a row they pause, for longer
each time, so a failing endpoint is not hammered. With a replay store, answers come from a
previous run's records and follow its log, so the search sees the same answers at the same
generations (with ``--max-evals``, the same run, bit for bit).
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from discover.evaluate import Candidate
from discover.expr import to_text
from discover.llm.budget import Budget, Usage
from discover.llm.client import AnswerError, ChatClient, Outcome, RetryPolicy, decode
from discover.llm.parse_answer import Rejection, parse_answer
from discover.llm.prompt import FRONTIER_SHOWN, TaskText, Templates, render, values
from discover.llm.replay import CallStore, request_key
from discover.llm.stats import LLMStats
from discover.search.loop import MAX_COMPLEXITY, SearchView

CLOSE_GRACE = 2.0  # seconds close() waits for calls in flight, so their tokens are counted
REASONING_MODELS = ("o1", "o3", "o4", "gpt-5")  # take max_completion_tokens, not max_tokens


@dataclass(frozen=True)
class LLMSettings:
    model: str
    base_url: str | None = None
    concurrency: int = 2
    timeout: float = 120.0
    max_tokens: int = 1024
    per_call: int = 5  # laws asked for in one call
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    pause_after: int = 3  # failed calls in a row before pausing
    pause: float = 15.0  # first pause in seconds, doubled each time (at most 10 minutes)


def request_body(model: str, system: str, user: str, max_tokens: int) -> dict:
    """The chat-completion request (what is sent, stored and hashed)."""
    reasoning = any(model == m or model.startswith(m + "-") for m in REASONING_MODELS)
    return {"model": model, "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            ("max_completion_tokens" if reasoning else "max_tokens"): max_tokens}


class LLMProposer:
    """The Proposer protocol (``propose``/``close``) plus ``stats()`` for the run summary."""

    name = "llm"

    def __init__(self, settings: LLMSettings, templates: Templates, task: TaskText, max_params: int,
                 folder: str | Path, budget: Budget | None = None, notify: Callable[[str], None] = print,
                 replay: CallStore | None = None, client: ChatClient | None = None):
        self.settings, self.templates, self.task, self.max_params = settings, templates, task, max_params
        self.budget = budget or Budget()
        self.notify = notify
        self.store = CallStore(folder)
        self.replay = replay
        self.stats_ = LLMStats(settings.model, replay=replay is not None)
        self.client = None if replay is not None else client or ChatClient(settings.base_url, timeout=settings.timeout,
                                                                          retry=settings.retry)
        self.ready: deque[Candidate] = deque()
        self.rejections: deque[Rejection] = deque(maxlen=12)
        self.in_flight: dict[int, tuple[str, tuple[int, ...]]] = {}
        self.occurrences: dict[str, int] = {}
        self.results: queue.Queue[tuple[int, Outcome]] = queue.Queue()
        self.jobs: queue.Queue[tuple[int, str, dict, int] | None] = queue.Queue()
        self.workers: list[threading.Thread] = []
        self.said: set[str] = set()
        self.failures_in_row = 0
        self.pauses = 0
        self.pause_until = 0.0
        self.closed = False
        previous = self.store.events()  # a resumed run goes on: its tickets, counters and budget
        self.ticket = 1 + max((int(e.get("ticket", -1)) for e in previous), default=-1)
        for e in previous:
            if e.get("event") in ("deliver", "late"):
                self._count(e)
        self.replayed: dict[int, Outcome] = {}  # by ticket of the recorded run
        self.ticket_of: dict[int, int] = {}  # recorded ticket -> this run's
        self.symbols: tuple[str, ...] = ()
        self.schedule = _schedule(replay.events()) if replay is not None else {}
        self.started = False

    # --- the Proposer protocol -----------------------------------------------------------------
    def propose(self, view: SearchView, n: int) -> list[Candidate]:
        if self.closed:
            return []
        g = view.generation
        self.symbols = view.problem.symbols
        if not self.started:  # the run folder exists by now
            self.started = True
            self.store.write_settings(self.describe_settings())
        if self.replay is not None:
            for recorded in self.schedule.get(("deliver", g), []):
                if recorded in self.replayed:
                    self._deliver(self.ticket_of[recorded], self.replayed.pop(recorded), g)
            for ticket in self.schedule.get(("launch", g), []):
                self._replay_launch(view, ticket)
        else:
            self._harvest(g)
            self._launch(view, n)
        out: list[Candidate] = []
        while self.ready and len(out) < n:
            out.append(self.ready.popleft())
        return out

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.replay is not None:
            for recorded in self.schedule.get(("late", None), []):
                if recorded in self.replayed:
                    self._deliver(self.ticket_of[recorded], self.replayed.pop(recorded), -1, late=True)
            return
        self._late(CLOSE_GRACE)
        for _ in self.workers:
            self.jobs.put(None)

    def stats(self) -> dict:
        if self.closed and self.replay is None:
            self._late(0.0)  # answers that came in after the search ended (during the final refits)
        return self.stats_.as_dict(self.budget)

    def _late(self, wait: float) -> None:
        """Count the answers of calls still in flight that arrive within ``wait`` seconds (tokens were spent)."""
        deadline = time.monotonic() + wait
        while self.in_flight:
            try:
                ticket, outcome = self.results.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            self._deliver(ticket, outcome, -1, late=True)

    def _count(self, event: dict) -> None:
        """Add a logged delivery to the counters (when a run is resumed)."""
        self.stats_.call(int(event.get("attempts", 1)), event.get("error", ""))
        if "tokens" in event:
            self.budget.add(Usage(*event["tokens"]))
        self.stats_.proposed += len(event.get("accepted", []))
        for text, reason in event.get("rejected", []):
            self.stats_.reject(Rejection(text, reason))

    def describe_settings(self) -> dict:
        s = asdict(self.settings)
        s["base_url"] = self.client.base_url if self.client is not None else s["base_url"]
        return {**s, "templates": {"system": self.templates.system, "user": self.templates.user},
                "task": asdict(self.task), "max_params": self.max_params,
                "budget_tokens": self.budget.max_tokens, "budget_usd": self.budget.max_usd,
                "price": asdict(self.budget.price) if self.budget.price else None}

    # --- calls ---------------------------------------------------------------------------------
    def _launch(self, view: SearchView, n: int) -> None:
        s = self.settings
        while not self.stats_.stopped and time.monotonic() >= self.pause_until and len(self.in_flight) < s.concurrency:
            if len(self.ready) + s.per_call * len(self.in_flight) >= 2 * max(n, s.per_call):
                return
            reason = self.budget.exhausted(len(self.in_flight))
            if reason:
                self._stop(reason)
                return
            ticket, key, body, occurrence = self._request(view)
            self._ensure_workers()
            self.jobs.put((ticket, key, body, occurrence))

    def _request(self, view: SearchView) -> tuple[int, str, dict, int]:
        """Build, number and log the next request."""
        ticket = self.ticket
        self.ticket += 1
        vals = values(view.problem, self.task, view.frontier, view.recent_failures, list(self.rejections),
                      self.settings.per_call, self.max_params, focus=ticket)
        body = request_body(self.settings.model, render(self.templates.system, vals),
                            render(self.templates.user, vals), self.settings.max_tokens)
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        occurrence = self.occurrences.get(digest, 0)
        self.occurrences[digest] = occurrence + 1
        key = request_key(body, occurrence)
        parents = tuple(r.id for r in view.frontier[-FRONTIER_SHOWN:])
        self.in_flight[ticket] = (key, parents)
        self.store.log({"event": "launch", "ticket": ticket, "generation": view.generation, "key": key})
        return ticket, key, body, occurrence

    def _replay_launch(self, view: SearchView, recorded: int) -> None:
        ticket, key, body, occurrence = self._request(view)
        outcome = self.replay.load(key)
        if outcome is None:  # the search took another path than the recorded run
            old_key = self.schedule.get(("key", recorded))
            outcome = self.replay.load(old_key) if old_key else None
            self.stats_.diverged += 1
            self._say("diverged", "LLM replay: a prompt differs from the recorded run's (the search diverged); "
                                  "answering with the recorded answers in their order")
        if outcome is None:
            outcome = Outcome(status=None, body=None, error="replay: no recorded answer")
        self.store.save(key, body, occurrence, outcome)
        self.replayed[recorded] = outcome
        self.ticket_of[recorded] = ticket

    def _ensure_workers(self) -> None:
        while len(self.workers) < self.settings.concurrency:
            t = threading.Thread(target=self._work, name=f"llm-{len(self.workers)}", daemon=True)
            t.start()
            self.workers.append(t)

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            ticket, key, body, occurrence = job
            try:
                outcome = self.client.complete(body)
            except Exception as exc:  # noqa: BLE001 - a worker must not die; the error is recorded
                outcome = Outcome(status=None, body=None, error=f"client error: {type(exc).__name__}: {exc}")
            try:
                self.store.save(key, body, occurrence, outcome)
            except OSError as exc:
                self._say("store", f"LLM: cannot store a call in {self.store.folder} ({exc})")
            self.results.put((ticket, outcome))

    def _harvest(self, generation: int) -> None:
        done: list[tuple[int, Outcome]] = []
        while True:
            try:
                done.append(self.results.get_nowait())
            except queue.Empty:
                break
        for ticket, outcome in sorted(done, key=lambda d: d[0]):
            self._deliver(ticket, outcome, generation)

    # --- answers -------------------------------------------------------------------------------
    def _deliver(self, ticket: int, outcome: Outcome, generation: int, late: bool = False) -> None:
        key, parents = self.in_flight.pop(ticket, ("", ()))
        event: dict = {"event": "late" if late else "deliver", "ticket": ticket, "generation": generation,
                       "key": key, "attempts": outcome.attempts}
        error, text = outcome.error, ""
        if not error:
            try:
                text, usage = decode(outcome.body or "")
            except AnswerError as exc:
                error = str(exc)
            else:
                self.budget.add(usage)
                self.stats_.answers_without_usage += not usage.reported
                event["tokens"] = [usage.prompt_tokens, usage.completion_tokens]
        self.stats_.call(outcome.attempts, error)
        if error:
            event["error"] = error
            self._failed(error, outcome.fatal)
        else:
            self.failures_in_row = 0
            parsed = parse_answer(text, self.symbols, self.max_params, MAX_COMPLEXITY)
            self.stats_.proposed += len(parsed.accepted)
            for p in parsed.accepted:
                if not late:
                    self.ready.append(Candidate(expr=p.expr, origin="llm", parents=parents, note=f"llm call {ticket}"))
            for r in parsed.rejected:
                self.stats_.reject(r)
                self.rejections.append(r)
            event["accepted"] = [to_text(p.expr) for p in parsed.accepted]
            event["rejected"] = [[r.text, r.reason] for r in parsed.rejected]
        self.store.log(event)

    def _failed(self, error: str, fatal: bool) -> None:
        if fatal:
            self._stop(error)
            return
        self._say(f"error:{error.split(':')[0]}", f"LLM call failed ({error}); the search goes on")
        self.failures_in_row += 1
        if self.failures_in_row >= self.settings.pause_after and self.replay is None:
            wait = min(600.0, self.settings.pause * 2 ** self.pauses)
            self.pauses += 1
            self.failures_in_row = 0
            self.pause_until = time.monotonic() + wait
            self.notify(f"LLM: {self.settings.pause_after} failed calls in a row; pausing LLM calls for {wait:g}s")

    def _stop(self, reason: str) -> None:
        if not self.stats_.stopped:
            self.stats_.stopped = reason
            self.notify(f"LLM calls stopped: {reason}; the search goes on GP-only")

    def _say(self, kind: str, message: str) -> None:
        if kind not in self.said:
            self.said.add(kind)
            self.notify(message)


def _schedule(events: list[dict]) -> dict:
    """A recorded log by (event, generation) -> tickets, and ("key", ticket) -> key."""
    out: dict = {}
    for e in events:
        kind, ticket = e.get("event"), e.get("ticket")
        if kind in ("launch", "deliver"):
            out.setdefault((kind, e.get("generation")), []).append(ticket)
        elif kind == "late":
            out.setdefault(("late", None), []).append(ticket)
        if kind == "launch":
            out[("key", ticket)] = e.get("key")
    return out
