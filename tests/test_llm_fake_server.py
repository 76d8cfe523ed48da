"""LLM proposals against a scripted OpenAI-compatible server on 127.0.0.1 (started and stopped here).

The server answers ``/v1/chat/completions`` from a script: good formulas, garbage, hostile
text, slow answers, 429, 500, malformed JSON, 401. The client retries what may pass and
stops on what cannot; a real ``discover run`` keeps going, rejects what it must and records
why; a replayed run gives the same candidates without the server.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from discover.llm.client import ChatClient, RetryPolicy, decode


@dataclass(frozen=True)
class Reply:
    """One scripted reply: an answer (``content``), an HTTP error (``status``), a raw body, a delay."""

    content: str = ""
    status: int = 200
    raw: str | None = None  # body sent as is (e.g. malformed JSON)
    delay: float = 0.0
    headers: dict = field(default_factory=dict)


def usage_for(request: dict, content: str) -> dict:
    prompt = sum(len(m.get("content", "")) for m in request.get("messages", []))
    return {"prompt_tokens": prompt // 4 + 1, "completion_tokens": len(content) // 4 + 1,
            "total_tokens": prompt // 4 + len(content) // 4 + 2}


class FakeOpenAI:
    """Answers ``POST /v1/chat/completions`` from a script, then with ``default`` forever."""

    def __init__(self, script: list[Reply], default: Reply):
        self.script = deque(script)
        self.default = default
        self.requests: list[dict] = []
        self.sent_usage: list[dict] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.thread.is_alive():  # shutdown() waits for serve_forever, forever if it never ran
            self.server.shutdown()
        self.server.server_close()

    def next_reply(self, request: dict) -> Reply:
        with self.lock:
            self.requests.append(request)
            return self.script.popleft() if self.script else self.default

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))
                    return
                request = json.loads(body)
                reply = fake.next_reply(request)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.raw is not None:
                    self._send(reply.status, reply.raw, reply.headers)
                elif reply.status != 200:
                    self._send(reply.status, json.dumps({"error": {"message": f"scripted {reply.status}",
                                                                   "type": "test", "code": None}}), reply.headers)
                else:
                    usage = usage_for(request, reply.content)
                    with fake.lock:
                        fake.sent_usage.append(usage)
                    self._send(200, json.dumps({
                        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": request["model"],
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": reply.content}}],
                        "usage": usage}))

            def _send(self, status: int, text: str, headers: dict | None = None) -> None:
                data = text.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

        return Handler


# --- the client ------------------------------------------------------------------------------

FAST = RetryPolicy(max_retries=3, backoff=0.05, max_wait=1.0)
GOOD = "Some thoughts first.\nLAW: p0 + p1*num_params**(-p2)\nLAW: p0 + p1/(num_params*(1 + p2*log(parallel_size)))**p3"


def ask(client: ChatClient):
    return client.complete({"model": "m", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 50})


def test_client_retries_429_and_500_then_succeeds():
    script = [Reply(status=429, headers={"Retry-After": "0"}), Reply(status=500), Reply(status=503)]
    with FakeOpenAI(script, Reply(content=GOOD)) as srv:
        outcome = ask(ChatClient(srv.url, timeout=5, retry=FAST))
    assert outcome.ok and outcome.status == 200 and outcome.attempts == 4
    text, usage = decode(outcome.body)
    assert text == GOOD and usage.total == srv.sent_usage[0]["total_tokens"]


def test_client_gives_up_after_its_retries_without_a_storm():
    with FakeOpenAI([], Reply(status=500)) as srv:
        outcome = ask(ChatClient(srv.url, timeout=5, retry=FAST))
    assert not outcome.ok and outcome.error == "HTTP 500" and not outcome.fatal
    assert len(srv.requests) == 4  # one try and three retries, no more


@pytest.mark.parametrize("status, words", [(401, "authentication failed: check OPENAI_API_KEY"),
                                           (404, "model or endpoint not found: check the model name"),
                                           (403, "access denied")])
def test_client_fatal_errors_are_not_retried(status, words):
    with FakeOpenAI([], Reply(status=status)) as srv:
        outcome = ask(ChatClient(srv.url, api_key="sk-test", timeout=5, retry=FAST))
    assert outcome.fatal and words in outcome.error and outcome.error.startswith(f"HTTP {status}")
    assert len(srv.requests) == 1


def test_client_times_out_and_retries():
    with FakeOpenAI([Reply(delay=8, content="late")], Reply(content=GOOD)) as srv:
        client = ChatClient(srv.url, timeout=1.0, retry=FAST)
        t0 = time.monotonic()
        outcome = ask(client)
    assert outcome.ok and outcome.attempts == 2 and decode(outcome.body)[0] == GOOD
    assert time.monotonic() - t0 < 5  # gave up on the slow answer: it would have taken 8 s


def test_client_keeps_a_malformed_body_raw_and_decode_says_why():
    with FakeOpenAI([Reply(raw="{not json")], Reply(content=GOOD)) as srv:
        outcome = ask(ChatClient(srv.url, timeout=5, retry=FAST))
    assert outcome.ok and outcome.body == "{not json"
    with pytest.raises(ValueError, match="malformed response: body is not JSON"):
        decode(outcome.body)
    with pytest.raises(ValueError, match="no choices"):
        decode('{"usage": {"prompt_tokens": 1, "completion_tokens": 1}}')


def test_client_reports_a_refused_connection():
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outcome = ask(ChatClient(f"http://127.0.0.1:{port}/v1", timeout=2, retry=RetryPolicy(max_retries=1, backoff=0.01)))
    assert not outcome.ok and outcome.error.startswith("connection error") and outcome.attempts == 2


# --- real runs through the CLI ---------------------------------------------------------------

HOSTILE = ("Try these:\nLAW: __import__('os').system('touch {marker}')\nLAW: (lambda: p0)()\n"
           "LAW: num_params.__class__.__bases__\nLAW: [p0, num_params][0]\n"
           "__import__('os').system('touch {marker}')")
# Every reply comes at once (timeouts are test_a_run_retries_...'s): the run ends after a number of
# candidates, which a fast machine reaches sooner, so a slow reply could still be in flight then.
SCRIPT = [
    Reply(content=GOOD),
    Reply(content="I cannot help with scaling laws, but here is a poem about turtles."),
    Reply(content=HOSTILE),
    Reply(status=429, headers={"Retry-After": "0"}),
    Reply(content="```\nL(N, P) = p0 + p1 * num_params^(-p2) * parallel_size^(-p3)\n```"),
    Reply(status=500, headers={"Retry-After": "0"}),
    Reply(content="1. loss = p0*exp(-p1*num_params) + p2/parallel_size\n2. y = A/N^alpha + E"),
    Reply(raw="{this is not json"),
    Reply(content="LAW: p0 + (p1/num_params)**p2 / (1 + p3*log(parallel_size))"),
]
DEFAULT = Reply(content="LAW: p0 + p1*log(num_params) + p2*log(parallel_size)")


def discover_run(out: Path, data: Path, *llm: str, max_evals: int | None = 250,
                 budget: float = 900) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "discover", "run", "--task", "parallel", "--data-dir", str(data),
           "--budget", str(budget), "--seed", "0", "--out", str(out), *llm]
    cmd += ["--max-evals", str(max_evals)] if max_evals else []
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def llm_candidates(run: Path) -> list[tuple[str, str, tuple[int, ...], str]]:
    rows = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]
    return [(r["text"], r["origin"], tuple(r["parents"]), r["note"]) for r in rows if r["origin"] == "llm"]


@pytest.fixture(scope="module")
def scripted_run(sldbench_dir, tmp_path_factory):
    """One run against the scripted server (kept for the replay test)."""
    root = tmp_path_factory.mktemp("llm")
    marker = root / "pwned"
    script = [Reply(content=r.content.replace("{marker}", str(marker)), status=r.status, raw=r.raw, delay=r.delay,
                    headers=r.headers) for r in SCRIPT]
    with FakeOpenAI(script, DEFAULT) as srv:
        proc = discover_run(root / "run", sldbench_dir, "--llm", "fake-model", "--llm-base-url", srv.url)
        left = len(srv.script)
        usage = list(srv.sent_usage)
    return root / "run", proc, marker, left, usage


def test_run_keeps_going_rejects_and_records_why(scripted_run):
    run, proc, marker, left, sent = scripted_run
    assert proc.returncode == 0, proc.stderr
    assert left == 0, "the run ended before the script was used up"
    assert not marker.exists()
    summary = json.loads((run / "summary.json").read_text())
    llm = summary["llm"]
    reasons = llm["rejection_reasons"]
    assert reasons["no formula found in the answer"] >= 1  # the poem
    assert reasons["disallowed call target: Attribute"] >= 1  # __import__('os').system(...)
    assert reasons["disallowed call target: Lambda"] >= 1
    assert reasons["disallowed syntax: Attribute"] >= 1
    assert reasons["disallowed syntax: Subscript"] >= 1
    assert reasons["unknown name: A"] >= 1
    assert llm["errors"] == {"malformed response": 1}
    assert llm["calls"] >= len(SCRIPT) - 2 and llm["proposed"] >= 5  # the 429 and the 500 were retried
    # calls, retries and tokens: exactly what the log of the delivered answers says
    log = [json.loads(line) for line in (run / "llm" / "log.jsonl").read_text().splitlines()]
    delivered = [e for e in log if e["event"] in ("deliver", "late")]
    assert llm["calls"] == len(delivered)
    assert llm["retries"] == sum(e["attempts"] - 1 for e in delivered)
    assert llm["prompt_tokens"] == sum(e["tokens"][0] for e in delivered if "tokens" in e)
    assert llm["completion_tokens"] == sum(e["tokens"][1] for e in delivered if "tokens" in e)
    assert 0 < llm["total_tokens"] <= sum(u["total_tokens"] for u in sent)
    # LLM-born candidates are marked, with the frontier they were shown as parents
    born = llm_candidates(run)
    assert born and all(note.startswith("llm call ") and parents for _, _, parents, note in born)
    texts = {t for t, *_ in born}
    assert "p0 + p1/(num_params*(p2*log(parallel_size) + 1))**p3" in texts
    # every request and answer is stored, content-addressed
    for e in (e for e in log if e["event"] == "launch"):
        stored = json.loads((run / "llm" / f"{e['key']}.json").read_text())
        assert stored["request"]["model"] == "fake-model"
    # the terminal says it too
    assert "LLM fake-model" in proc.stderr and "for 30% of offspring" in proc.stderr
    assert "LLM call failed (malformed response: body is not JSON)" in proc.stderr
    assert "rejected ×" in proc.stdout and "frontier law(s) from the LLM" in proc.stdout


def test_a_run_retries_429_500_and_timeouts_and_counts_them(sldbench_dir, tmp_path):
    # a time budget, not a number of candidates: the retries (up to ~12 s if one call meets all three
    # errors in a row) end well within the run on any machine, so every one is counted
    script = [Reply(status=429, headers={"Retry-After": "0"}), Reply(status=500), Reply(delay=8, content=GOOD)]
    with FakeOpenAI(script, DEFAULT) as srv:
        proc = discover_run(tmp_path / "run", sldbench_dir, "--llm", "fake-model", "--llm-base-url", srv.url,
                            "--llm-timeout", "3", max_evals=None, budget=30)
        requests = len(srv.requests)
    assert proc.returncode == 0, proc.stderr
    llm = json.loads((tmp_path / "run" / "summary.json").read_text())["llm"]
    assert llm["retries"] == 3 and llm["errors"] == {} and llm["failed_calls"] == 0
    assert requests >= llm["calls"] + 3


def test_replay_gives_the_same_llm_candidates_without_a_server(scripted_run, sldbench_dir, tmp_path):
    first, *_ = scripted_run
    proc = discover_run(tmp_path / "again", sldbench_dir, "--llm-replay", str(first))
    assert proc.returncode == 0, proc.stderr
    assert "replayed from" in proc.stderr and "no network" in proc.stderr
    assert llm_candidates(tmp_path / "again") == llm_candidates(first)
    rows = [(json.loads(a)["text"], json.loads(a)["origin"]) for a in (first / "candidates.jsonl").open()]
    again = [(json.loads(a)["text"], json.loads(a)["origin"]) for a in (tmp_path / "again" / "candidates.jsonl").open()]
    assert again == rows  # with --max-evals, the whole run is the same
    a, b = (json.loads((p / "summary.json").read_text())["llm"] for p in (first, tmp_path / "again"))
    assert b["replay"] and b["replay_diverged"] == 0
    for k in ("calls", "prompt_tokens", "completion_tokens", "proposed", "rejected", "rejection_reasons", "errors"):
        assert a[k] == b[k], k
    # the replayed run stores the same calls, so it can be replayed in turn
    assert sorted(p.name for p in (first / "llm").glob("*.json") if p.name != "settings.json") == \
        sorted(p.name for p in (tmp_path / "again" / "llm").glob("*.json") if p.name != "settings.json")


def test_bad_key_says_so_once_and_the_run_goes_on_gp_only(sldbench_dir, tmp_path):
    with FakeOpenAI([], Reply(status=401)) as srv:
        proc = discover_run(tmp_path / "run", sldbench_dir, "--llm", "gpt-4o-mini", "--llm-base-url", srv.url,
                            max_evals=100)
        requests = len(srv.requests)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("HTTP 401 authentication failed") == 1
    assert "the search goes on GP-only" in proc.stderr
    assert requests <= 2  # the calls already in flight; no retries, no more calls
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["evaluations"] == 100 and summary["llm"]["stopped"].startswith("HTTP 401")
    assert "llm" not in summary["origins"]
    assert (tmp_path / "run" / "final.json").is_file()


def test_without_llm_the_run_says_gp_only(sldbench_dir, tmp_path):
    proc = discover_run(tmp_path / "run", sldbench_dir, max_evals=40)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("GP-only search (no LLM configured)") == 1
    assert not (tmp_path / "run" / "llm").exists()
    assert "llm" not in json.loads((tmp_path / "run" / "summary.json").read_text())


def test_resume_with_the_llm_goes_on_counting(sldbench_dir, tmp_path):
    run = tmp_path / "run"
    base = [sys.executable, "-m", "discover", "run", "--data-dir", str(sldbench_dir), "--quiet"]
    with FakeOpenAI([], Reply(content=GOOD + "\nLAW: p0*N")) as srv:
        llm = ["--llm", "fake-model", "--llm-base-url", srv.url]
        first = subprocess.run(base + ["--task", "parallel", "--budget", "20", "--out", str(run), *llm],
                               capture_output=True, text=True, timeout=600)
        assert first.returncode == 0, first.stderr
        before = json.loads((run / "summary.json").read_text())["llm"]
        again = subprocess.run(base + ["--resume", str(run), "--budget", "40", *llm], capture_output=True, text=True,
                               timeout=600)
        assert again.returncode == 0, again.stderr
    after = json.loads((run / "summary.json").read_text())["llm"]
    log = [json.loads(line) for line in (run / "llm" / "log.jsonl").read_text().splitlines()]
    launches = [e["ticket"] for e in log if e["event"] == "launch"]
    assert len(launches) == len(set(launches))  # tickets go on after a resume
    assert after["calls"] == len([e for e in log if e["event"] in ("deliver", "late")]) > before["calls"]
    assert after["rejection_reasons"]["unknown name: N"] == after["calls"]
    assert after["total_tokens"] > before["total_tokens"]


def test_resume_without_llm_options_calls_the_recorded_model_again_unless_no_llm(sldbench_dir, tmp_path):
    run = tmp_path / "run"
    base = [sys.executable, "-m", "discover", "run", "--data-dir", str(sldbench_dir), "--quiet"]
    with FakeOpenAI([], Reply(content=GOOD + "\nLAW: p0*N")) as srv:
        first = subprocess.run(base + ["--task", "parallel", "--budget", "10", "--out", str(run), "--llm", "fake-model",
                                       "--llm-base-url", srv.url, "--llm-budget-tokens", "100000000"],
                               capture_output=True, text=True, timeout=600)
        assert first.returncode == 0, first.stderr
        asked = len(srv.requests)
        again = subprocess.run(base + ["--resume", str(run), "--budget", "20"], capture_output=True, text=True,
                               timeout=600)
        assert again.returncode == 0, again.stderr
        assert "resuming with the run's LLM fake-model" in again.stderr
        assert len(srv.requests) > asked and srv.requests[-1]["model"] == "fake-model"
        asked = len(srv.requests)
        quiet = subprocess.run(base + ["--resume", str(run), "--budget", "26", "--no-llm"], capture_output=True,
                               text=True, timeout=600)
        assert quiet.returncode == 0, quiet.stderr
        assert len(srv.requests) == asked  # --no-llm: GP only from here on
    settings = json.loads((run / "llm" / "settings.json").read_text())
    assert settings["budget_tokens"] == 100000000 and "api_key" not in json.dumps(settings).lower()
    bad = subprocess.run(base + ["--task", "parallel", "--no-llm", "--out", str(tmp_path / "x")], capture_output=True,
                         text=True, timeout=600)
    assert bad.returncode != 0 and "--no-llm goes with --resume" in bad.stderr and "Traceback" not in bad.stderr
