"""LLM pieces without a network: answer parsing, prices and budgets, prompts, the request key,
and the proposer's protocol (non-blocking, budget stop) against a slow local server."""

import json
import time

import pytest
from test_llm_fake_server import FakeOpenAI, Reply

from discover.data import load_dataset
from discover.errors import UserError
from discover.expr import to_text
from discover.llm.budget import Budget, Price, Usage, load_prices, price_for
from discover.llm.client import ChatClient, RetryPolicy
from discover.llm.parse_answer import candidate_texts, clean, parse_answer
from discover.llm.prompt import TaskText, Templates, load_templates, render, values
from discover.llm.proposer import LLMProposer, LLMSettings, request_body
from discover.llm.replay import request_key
from discover.problem import make_problem
from discover.search.loop import SearchView
from discover.tasks import find_task

V = ("num_params", "parallel_size")


def accepted(answer: str, max_params: int = 8) -> list[str]:
    return [to_text(p.expr) for p in parse_answer(answer, V, max_params, 80).accepted]


def rejected(answer: str, max_params: int = 8) -> list[tuple[str, str]]:
    return [(r.text, r.reason) for r in parse_answer(answer, V, max_params, 80).rejected]


# --- answers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, law", [
    ("LAW: p0 + p1*num_params**(-p2)", "p0 + p1/num_params**p2"),
    ("L(N, P) = p0 + p1 * num_params^(-p2)", "p0 + p1/num_params**p2"),
    ("y = p0 + p1/num_params^p2.", "p0 + p1/num_params**p2"),
    ("```python\nloss = p0 + p1 * num_params ** -p2\n```", "p0 + p1/num_params**p2"),
    ("1. **Law 1**: $p0 + p1 \\cdot num_params^{-p2}$", "p0 + p1/num_params**p2"),
    ("- `p0 + p1*num_params^(-p2)`, where p0 is the irreducible loss", "p0 + p1/num_params**p2"),
    ("Formula 3: p0 + p1 × num_params^(−p2)", "p0 + p1/num_params**p2"),
    ("LAW: p0 – p1*num_params", "-num_params*p1 + p0"),  # an en dash for minus
    ("<think>L = 3 + x</think>\nLAW: p5 + p7*num_params**(-p9)", "p0 + p1/num_params**p2"),  # renumbered
])
def test_noise_around_a_formula_is_tolerated(answer, law):
    assert accepted(answer) == [law]


def test_several_candidates_in_one_answer_in_order_without_duplicates():
    answer = ("Based on the frontier, I propose:\n\nLAW: p0 + p1*num_params**p2\n"
              "LAW: p0 + p1*num_params**p2*parallel_size**p3\nLAW: p0+p1*num_params**p2\n"
              "LAW: p0 + p1*log(num_params) + p2*log(parallel_size)\n")
    assert accepted(answer) == ["num_params**p2*p1 + p0",
                                "num_params**p2*p1*parallel_size**p3 + p0",
                                "p0 + p1*log(num_params) + p2*log(parallel_size)"]


def test_prose_only_lines_are_skipped_when_formulas_are_unmarked():
    answer = "The loss falls with num_params.\nloss = p0 + p1/num_params\nThis saturates at p0."
    assert accepted(answer) == ["p0 + p1/num_params"]
    assert rejected(answer) == []


@pytest.mark.parametrize("answer, reason", [
    ("LAW: __import__('os').system('echo hi')", "disallowed call target: Attribute"),
    ("LAW: (lambda: p0)()", "disallowed call target: Lambda"),
    ("LAW: lambda num_params: p0", "disallowed syntax: Lambda"),
    ("LAW: num_params.__class__", "disallowed syntax: Attribute"),
    ("LAW: eval('p0')", "function not allowed: eval"),
    ("LAW: open('/etc/passwd')", "function not allowed: open"),
    ("LAW: p0 if num_params else p1", "disallowed syntax: IfExp"),
    ("LAW: p0 * N^p1", "unknown name: N"),
    ("LAW: A/N^alpha + E", "unknown name: A"),
    ("LAW: 2*num_params", "has no parameters p0, p1, ... to fit"),
    ("LAW: p0 + p1", "does not use any input variable"),
    ("LAW: p0*num_params**1e6", "constant exponent 1000000.00000000 exceeds 16"),
    ("LAW: p0 + p1*num_params + p2*p3*p4*p5*p6*p7*p8*p9*parallel_size", "10 parameters, more than the cap of 8"),
    ("LAW: p0 + p1 num_params", "not a valid expression: invalid syntax at character 9"),
    ("LAW: p0*(num_params + 1", "not a valid expression: '(' was never closed at character 4"),
    ("I am sorry, I cannot do that.", "no formula found in the answer"),
    ("", "no formula found in the answer"),
])
def test_bad_formulas_are_rejected_with_the_reason(answer, reason):
    assert accepted(answer) == []
    assert [r for _, r in rejected(answer)] == [reason]


def test_nothing_in_an_answer_is_executed(tmp_path):
    marker = tmp_path / "pwned"
    answer = "\n".join(f"LAW: {t}" for t in (
        f"__import__('os').system('touch {marker}')", f"open('{marker}', 'w').write('x')",
        "().__class__.__bases__[0].__subclasses__()", f"exec(\"open('{marker}','w')\")"))
    assert accepted(answer) == [] and len(rejected(answer)) == 4
    assert not marker.exists()


def test_too_many_or_too_complex_candidates_are_bounded():
    many = "\n".join(f"LAW: p0 + p1*num_params**{i}" for i in range(1, 16))
    assert len(candidate_texts(many, V)) == 12
    deep = "LAW: " + "+".join(f"p{i % 8}*log(num_params + {i})" for i in range(20))
    assert "exceeds 80" in rejected(deep)[0][1]


def test_clean_keeps_comparison_free_formulas_intact():
    assert clean("  2) loss(N) = p0 + p1*num_params  ") == "p0 + p1*num_params"
    assert clean("p0*num_params**2.") == "p0*num_params**2"


# --- prices and budgets ----------------------------------------------------------------------

def test_prices_exact_prefix_and_user_file(tmp_path):
    prices = load_prices()
    assert price_for("gpt-4o-mini", prices) == Price(0.15, 0.60)
    assert price_for("gpt-4o-mini-2024-07-18", prices) == Price(0.15, 0.60)  # longest prefix, not gpt-4o
    assert price_for("gpt-4o-2024-08-06", prices) == Price(2.5, 10.0)
    assert price_for("my-local-model", prices) is None
    f = tmp_path / "prices.json"
    f.write_text(json.dumps({"my-local-model": {"input": 0, "output": 0}, "gpt-4o": {"input": 1, "output": 2}}))
    prices = load_prices(f)
    assert price_for("my-local-model", prices) == Price(0, 0) and price_for("gpt-4o", prices) == Price(1, 2)
    f.write_text(json.dumps({"m": {"input": "cheap"}}))
    with pytest.raises(UserError, match="needs numbers 'input' and 'output'"):
        load_prices(f)
    f.write_text("{not json")
    with pytest.raises(UserError, match="not a readable JSON file"):
        load_prices(f)


def test_usage_is_read_from_the_answer_and_missing_usage_is_flagged():
    assert Usage.from_response({"usage": {"prompt_tokens": 10, "completion_tokens": 5}}) == Usage(10, 5)
    assert not Usage.from_response({"choices": []}).reported
    assert not Usage.from_response({"usage": {"prompt_tokens": "10", "completion_tokens": 5}}).reported


def test_budget_counts_and_stops_before_overshooting():
    b = Budget(max_tokens=1000, max_usd=None)
    assert b.exhausted() is None
    b.add(Usage(300, 100))
    assert b.total_tokens == 400 and b.exhausted() is None
    assert b.exhausted(in_flight=2) is not None  # 400 + 2 x 400 expected > 1000
    b.add(Usage(500, 200))
    assert "token budget reached (1,100 of 1,000 tokens)" == b.exhausted()
    money = Budget(max_usd=0.01, price=Price(2.5, 10.0))
    money.add(Usage(2000, 500))  # 0.005 + 0.005
    assert money.usd == pytest.approx(0.01) and "money budget reached" in money.exhausted()
    with pytest.raises(UserError, match="needs a price"):
        Budget(max_usd=1.0, price=None)


# --- prompts and requests --------------------------------------------------------------------

@pytest.fixture(scope="module")
def problem(sldbench_dir):
    return make_problem(load_dataset(find_task("parallel"), sldbench_dir))


def test_bundled_templates_fill_every_placeholder(problem):
    t = load_templates()
    vals = values(problem, TaskText("parallel_scaling_law", "desc", "top value of parallel_size", "provided"), [],
                  [], [], n=5, max_params=12, focus=0)
    user = render(t.user, vals)
    assert "{{" not in user and "{{" not in render(t.system, vals)
    for needle in ("num_params (in units of 1e+09)", "parallel_size (unscaled)", "validation rows 4",
                   "p0..p11", "Propose 5 new laws", "LAW: p0 + p1 * num_params ** (-p2)", "(empty so far)"):
        assert needle in user, needle


def test_user_templates_with_unknown_placeholders_are_refused(tmp_path):
    (tmp_path / "system.md").write_text("sys")
    (tmp_path / "user.md").write_text("{{frontier}} {{secret_key}}")
    with pytest.raises(UserError, match="unknown placeholder.*secret_key"):
        load_templates(tmp_path)
    (tmp_path / "user.md").write_text("{{frontier.__class__}} {0.__class__}")
    t = load_templates(tmp_path)  # not placeholders: left as text, nothing is formatted
    assert render(t.user, {"frontier": "F"}) == "{{frontier.__class__}} {0.__class__}"
    with pytest.raises(UserError, match="cannot read system.md"):
        load_templates(tmp_path / "missing")


def test_request_key_is_stable_and_tells_repeats_apart():
    body = request_body("gpt-4o-mini", "s", "u", 100)
    assert body["max_tokens"] == 100 and "max_completion_tokens" in request_body("gpt-5-mini", "s", "u", 100)
    assert request_key(body) == request_key(json.loads(json.dumps(body)))
    assert request_key(body, 0) != request_key(body, 1)
    assert len(request_key(body)) == 64


# --- the proposer ------------------------------------------------------------------------------

def make_proposer(tmp_path, url: str, budget: Budget | None = None, notes: list | None = None) -> LLMProposer:
    templates = Templates(system="Answer with LAW: lines.", user="Inputs: {{inputs}}. Give {{n}} laws.")
    settings = LLMSettings(model="fake", base_url=url, concurrency=2, timeout=10, per_call=3)
    client = ChatClient(url, timeout=10, retry=RetryPolicy(max_retries=1, backoff=0.01))
    return LLMProposer(settings, templates, TaskText("parallel_scaling_law"), 8, tmp_path / "llm", budget,
                       (notes if notes is not None else []).append, client=client)


def wait_for(proposer: LLMProposer, view: SearchView, n: int, seconds: float = 10.0) -> list:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = proposer.propose(view, n)
        if got:
            return got
        time.sleep(0.05)
    return []


def test_propose_never_waits_for_the_network(problem, tmp_path):
    slow = Reply(delay=1.5, content="LAW: p0 + p1*num_params**(-p2)\nLAW: p0 + p1*log(num_params)")
    with FakeOpenAI([], slow) as srv:
        proposer = make_proposer(tmp_path, srv.url)
        view = SearchView(problem=problem, frontier=[], recent_failures=[], generation=1)
        t0 = time.monotonic()
        assert proposer.propose(view, 4) == []
        assert time.monotonic() - t0 < 1.0  # the server takes 1.5 s to answer
        assert len(proposer.in_flight) == 2  # concurrency 2, no more
        got = wait_for(proposer, view, 4)
        proposer.close()
    assert {to_text(c.expr) for c in got} == {"p0 + p1/num_params**p2", "p0 + p1*log(num_params)"}
    assert all(c.origin == "llm" and c.note.startswith("llm call ") for c in got)
    stats = proposer.stats()
    assert stats["calls"] >= 1 and stats["total_tokens"] > 0 and stats["proposed"] >= 2


def test_budget_stops_calls_with_one_message(problem, tmp_path):
    notes: list[str] = []
    with FakeOpenAI([], Reply(content="LAW: p0 + p1*num_params")) as srv:
        proposer = make_proposer(tmp_path, srv.url, Budget(max_tokens=10), notes)
        view = SearchView(problem=problem, frontier=[], recent_failures=[], generation=1)
        wait_for(proposer, view, 3)
        for g in range(2, 5):
            proposer.propose(SearchView(problem=problem, frontier=[], recent_failures=[], generation=g), 3)
        proposer.close()
    assert len(srv.requests) == 2  # the two first calls; none after the budget was spent
    assert [n for n in notes if "token budget reached" in n] == [notes[-1]]
    assert "the search goes on GP-only" in notes[-1]
    assert proposer.stats()["stopped"].startswith("token budget reached")


def test_rejections_are_fed_back_in_later_prompts(problem, tmp_path):
    with FakeOpenAI([Reply(content="LAW: p0 * N^p1")], Reply(content="LAW: p0 + p1*num_params")) as srv:
        proposer = make_proposer(tmp_path, srv.url)
        proposer.templates = Templates(system="s", user="{{failures}}")
        view = SearchView(problem=problem, frontier=[], recent_failures=[], generation=1)
        wait_for(proposer, view, 3)
        deadline = time.monotonic() + 10
        while proposer.results.qsize() < len(proposer.in_flight) and time.monotonic() < deadline:
            time.sleep(0.02)  # every call of the first round has answered (the rejected one included)
        proposer.propose(SearchView(problem=problem, frontier=[], recent_failures=[], generation=2), 3)
        proposer.close()
        prompts = [r["messages"][1]["content"] for r in srv.requests]
    assert any('"p0 * N^p1" was rejected: unknown name: N' in p for p in prompts[1:])
