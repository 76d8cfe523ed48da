"""The batch benchmark: the paper's averaging rule, the result files, resume, CLI errors."""

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from discover.bench import (
    CSV_COLUMNS,
    BenchConfig,
    collect,
    load_reference,
    plan,
    read_run,
    run_dir,
    run_job,
    write_results,
)
from discover.final import FinalLaw
from discover.runstore import write_json_atomic
from discover.score import Scores


@dataclass(frozen=True)
class FakeTask:
    name: str


def fake_run(out: Path, task: str, seed: int, r2: float | None, error: str = "", selection: dict | None = None) -> None:
    """A finished run folder with a recommended law of test R² ``r2`` (chosen as ``selection``
    records), or a failed attempt."""
    path = run_dir(out, task, seed)
    if r2 is None:
        write_json_atomic(path / "bench.json", {"ok": False, "seconds": 1.0, "error": error})
        return
    s = Scores(r2=max(r2, -1.0), r2_raw=r2, nmse=1 - r2, nmae=0.5)
    law = FinalLaw(id=1, text="p0*N**p1 + p2", complexity=7, n_params=3, origin="motif", names=("p0", "p1", "p2"),
                   params=((1.0, -0.5, 2.0),), train=s, val=s, test=s, recommended=True)
    write_json_atomic(path / "config.json", {"symbols": ["N"], "scales": {"N": 1e8}})
    write_json_atomic(path / "summary.json", {"evaluations": 100, "elapsed": 5.0})
    write_json_atomic(path / "final.json", {"laws": [law.to_json()], **({"selection": selection} if selection else {})})
    write_json_atomic(path / "bench.json", {"ok": True, "seconds": 6.0, "evaluations": 100})


def test_failed_run_counts_minus_one_and_r2_is_clipped(tmp_path):
    task = FakeTask("parallel_scaling_law")
    for seed, r2 in enumerate([0.9, None, 0.8, 0.7, 0.6]):
        fake_run(tmp_path, task.name, seed, r2, error="RuntimeError: boom")
    other = FakeTask("easy_question_scaling_law")
    fake_run(tmp_path, other.name, 0, -939.8)
    fake_run(tmp_path, other.name, 1, 0.5)
    config = BenchConfig(tasks=(task, other), out=tmp_path, seeds=5, budget=8, jobs=1, human=False)
    ref = load_reference()
    rows = collect(config, ref)
    assert rows[0].r2_mean == pytest.approx(0.4)
    assert rows[0].r2_best == pytest.approx(0.9) and rows[0].runs_ok == 4
    assert rows[0].runs[1].status == "failed" and "boom" in rows[0].runs[1].error
    assert rows[1].r2_mean == pytest.approx((-1 + 0.5 - 3) / 5)  # clipped at -1, 3 missing runs count -1
    write_results(config, rows, ref)
    md = (tmp_path / "results.md").read_text()
    assert "parallel_scaling_law seed 1: failed: RuntimeError: boom" in md
    assert "`p0*(1.0e-8*N)**p1 + p2`" in md  # the law in raw units


def test_results_say_how_many_runs_chose_their_law_on_folds(tmp_path):
    """A developer judging a change to the fold rule must see the runs it never touched."""
    folds, one = {"rule": "folds", "folds": 3, "pool": 24}, {"rule": "one slice", "folds": 1, "pool": 0}
    task, other = FakeTask("moe_scaling_law"), FakeTask("vocab_scaling_law")
    for seed, selection in enumerate([folds, one, one, None]):
        fake_run(tmp_path, task.name, seed, 0.5, selection=selection)
    fake_run(tmp_path, task.name, 4, None, error="boom")
    fake_run(tmp_path, other.name, 0, 0.9)  # recorded before runs kept their selection
    config = BenchConfig(tasks=(task, other), out=tmp_path, seeds=5, budget=8, jobs=1, human=False)
    ref = load_reference()
    rows = collect(config, ref)
    moe = next(t for t in rows if t.task == task.name)
    assert [r.chosen_on for r in moe.runs] == ["3 folds", "one slice", "one slice", "", ""]
    assert moe.chosen_on == "one slice (2/3), 3 folds (1/3)"
    write_results(config, rows, ref)
    md = (tmp_path / "results.md").read_text()
    assert "| law chosen on |" in md and "| one slice (2/3), 3 folds (1/3) |" in md
    assert "| 100 | — |" in md  # vocab: nothing recorded, nothing claimed
    with open(tmp_path / "results.csv") as f:
        assert {row["task"]: row["chosen_on"] for row in csv.DictReader(f)} == {
            task.name: "one slice (2/3), 3 folds (1/3)", other.name: ""}


def test_first_seed_confirms_on_fresh_seeds_without_counting_earlier_runs(tmp_path, sldbench_dir):
    from discover.tasks import find_task

    task = find_task("parallel")
    for seed, r2 in enumerate([0.1, 0.2, 0.9, 0.7]):  # seeds 0-1: an earlier batch in the same folder
        fake_run(tmp_path, task.name, seed, r2)
    config = BenchConfig(tasks=(task,), out=tmp_path, seeds=3, first_seed=2, budget=1, jobs=1, human=False,
                         data_dir=str(sldbench_dir))
    jobs, done = plan(config)
    assert done == [f"{task.name} seed 2", f"{task.name} seed 3"]
    assert [j.key for j in jobs] == [f"{task.name} seed 4"]  # only the missing fresh seed is run
    fake_run(tmp_path, task.name, 4, 0.5)
    ref = load_reference()
    rows = collect(config, ref)
    assert [r.seed for r in rows[0].runs] == [2, 3, 4]
    assert rows[0].r2_mean == pytest.approx(0.7)
    fake_run(tmp_path, "vocab_scaling_law", 10, 0.9)  # another task's batch in the same folder
    write_results(config, rows, ref)
    md = (tmp_path / "results.md").read_text()
    assert "× 3 seed(s) (seeds 2–4)" in md
    assert json.loads((tmp_path / "results.json").read_text())["first_seed"] == 2
    # the runs the tables leave out are named, not silently dropped
    assert ("3 run(s) from another batch are in this folder and not in the tables above: parallel_scaling_law "
            "seed 0, parallel_scaling_law seed 1, vocab_scaling_law seed 10.") in md


def test_an_error_in_a_run_is_recorded_and_counts_minus_one(tmp_path, sldbench_dir, monkeypatch):
    import discover.runner
    from discover.tasks import find_task

    def broken(*args, **kwargs):
        raise RuntimeError("search exploded")

    monkeypatch.setattr(discover.runner, "start_run", broken)
    task = find_task("parallel")
    info = run_job(task, 0, 1.0, tmp_path, str(sldbench_dir))
    assert not info["ok"] and "search exploded" in info["error"]
    row = read_run(tmp_path, task.name, 0)
    assert row.status == "failed" and "RuntimeError: search exploded" in row.error
    rows = collect(BenchConfig(tasks=(task,), out=tmp_path, seeds=2, budget=1, jobs=1, human=False), load_reference())
    assert rows[0].r2_mean == -1.0 and rows[0].best is None


def test_reference_rows_match_the_paper():
    ref = load_reference()
    assert len(ref.tasks) == 8 and "Table 3" in ref.source
    assert ref.value("human", "moe_scaling_law") == 0.703
    assert ref.value("sldagent_gpt5", "lr_bsz_scaling_law") == 0.604
    assert ref.value("sldagent_best", "moe_scaling_law") == 0.846
    for key, mean in (("human", 0.517), ("sldagent_gpt5", 0.748)):
        assert sum(ref.value(key, t) for t in ref.tasks) / 8 == pytest.approx(mean, abs=6e-4)


def discover(*args: str, timeout: float = 240, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "discover", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_tiny_bench_writes_tables_and_resumes(tmp_path, sldbench_dir):
    out = tmp_path / "bench"
    args = ("bench", "--tasks", "parallel,sft", "--seeds", "1", "--budget", "8", "--jobs", "2", "--out", str(out),
            "--data-dir", str(sldbench_dir), "--quiet")
    first = discover(*args)
    assert first.returncode == 0, first.stderr
    with open(out / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["task"] for r in table] == ["parallel_scaling_law", "sft_scaling_law"]
    assert tuple(table[0]) == CSV_COLUMNS
    for r in table:
        assert r["split"] == "test" and r["runs"] == "1" and r["runs_ok"] == "1"
        assert -1.0 <= float(r["r2_mean"]) <= 1.0 and r["formula"]
        assert float(r["human_published_r2"]) == pytest.approx(float(r["ref_human"]), abs=6e-4)
        assert r["human_refit_r2"] and float(r["candidates"]) > 0
    data = json.loads((out / "results.json").read_text())
    assert [t["task"] for t in data["tasks"]] == ["parallel_scaling_law", "sft_scaling_law"]
    md = (out / "results.md").read_text()
    for needle in ("| system | parallel | sft | mean |", "SLDAgent + GPT-5 (paper)", "discover, mean of seeds",
                   "human law, refitted by discover", "## Per task"):
        assert needle in md
    done = [run_dir(out, t, 0) / name for t in ("parallel_scaling_law", "sft_scaling_law")
            for name in ("final.json", "candidates.jsonl")]
    stamps = [p.stat().st_mtime_ns for p in done]
    second = discover(*args, timeout=60)
    assert second.returncode == 0, second.stderr
    assert [p.stat().st_mtime_ns for p in done] == stamps
    assert json.loads((out / "results.json").read_text())["tasks"] == data["tasks"]
    shown = discover("show", str(out))  # a bench folder: its table as recorded, and where to look next
    assert shown.returncode == 0, shown.stderr
    mean = next(line for line in shown.stdout.splitlines() if "discover, mean of seeds" in line)
    assert f"{data['tasks'][0]['r2_mean']:.3f}".replace("-", "−") in mean
    assert "test R² — 1 seed(s) (seed 0), budget 8 s" in shown.stdout and f"discover report {out}" in shown.stdout
    (out / "results.json").unlink()
    assert "without a readable results.json" in discover("show", str(out)).stderr


def test_a_task_without_data_is_left_out_and_the_batch_goes_on(tmp_path, sldbench_dir):
    data = tmp_path / "data"
    data.mkdir()
    (data / "parallel_scaling_law").symlink_to(sldbench_dir / "parallel_scaling_law")
    out = tmp_path / "bench"
    nowhere = {"DISCOVER_DATA": str(tmp_path / "none"), "DISCOVER_CACHE": str(tmp_path / "cache"),
               "HF_ENDPOINT": "http://127.0.0.1:9"}  # nothing listens on port 9: no download
    r = discover("bench", "--tasks", "parallel,sft", "--seeds", "1", "--budget", "3", "--jobs", "1", "--out", str(out),
                 "--data-dir", str(data), "--quiet", env=nowhere)
    assert r.returncode == 0, r.stderr
    assert "skipping sft_scaling_law: no data for sft_scaling_law" in r.stderr
    with open(out / "results.csv") as f:
        assert [row["task"] for row in csv.DictReader(f)] == ["parallel_scaling_law"]
    md = (out / "results.md").read_text()
    assert "## Tasks left out of this batch" in md and "- sft_scaling_law: no data" in md


@pytest.mark.parametrize("args, message", [
    (("bench", "--tasks", "no_such_task"), "no_such_task"),
    (("bench", "--tasks", "parallel", "--seeds", "0"), "--seeds"),
    (("bench", "--tasks", "parallel", "--first-seed", "-1"), "--first-seed"),
    (("baseline", "--task", "no_such_task"), "no_such_task"),
    (("baseline", "--task", "parallel", "--params", "/nonexistent/params.json"), "no such file"),
    (("report", ".", "--jobs", "0"), "--jobs must be 1 or more"),
])
def test_cli_errors_are_one_line_with_exit_2(args, message, sldbench_dir):
    r = discover(*args, "--data-dir", str(sldbench_dir), timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr


def test_baseline_command_shows_published_and_refitted(sldbench_dir):
    # the published parameters are found beside the data, with no --params
    r = discover("baseline", "--task", "vocab", "--data-dir", str(sldbench_dir), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "0.9664" in r.stdout and "reproduces" in r.stdout and "(b) differs from (a)" in r.stdout
    assert "vocab_scaling_law/human_law.json" in r.stdout.replace("\n", "")


def test_baseline_without_published_parameters_says_so_and_still_refits(tmp_path, sldbench_dir):
    name = "parallel_scaling_law"
    (tmp_path / name).mkdir()
    for f in ("train.csv", "test.csv"):
        shutil.copy(sldbench_dir / name / f, tmp_path / name / f)
    r = discover("baseline", "--task", "parallel", "--data-dir", str(tmp_path), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "published: none" in r.stdout and "refitted on train" in r.stdout and "reproduces" not in r.stdout


def test_development_bench_scores_on_trains_validation_slice_and_will_not_mix_splits(tmp_path, sldbench_dir):
    out = tmp_path / "dev"
    args = ("bench", "--tasks", "parallel", "--seeds", "1", "--budget", "4", "--jobs", "1", "--out", str(out),
            "--data-dir", str(sldbench_dir), "--quiet")
    r = discover(*args, "--dev")
    assert r.returncode == 0, r.stderr
    md = (out / "results.md").read_text()
    assert "(development split)" in md and "Development R²" in md and "(paper)" not in md
    assert json.loads((out / "results.json").read_text())["split"] == "development"
    with open(out / "results.csv") as f:
        assert {row["split"] for row in csv.DictReader(f)} == {"development"}
    config = json.loads((run_dir(out, "parallel_scaling_law", 0) / "config.json").read_text())
    assert config["split"] == "development" and config["rows"]["train"] == 24  # parallel_size 1 and 2 of 36 rows
    human = json.loads((out / "human" / "parallel_scaling_law.json").read_text())
    assert human["split"] == "development" and human["published"] is None and human["refitted"]["ok"]
    again = discover(*args, timeout=60)  # the same folder on the test split
    assert again.returncode == 2 and "use another --out" in again.stderr


def test_a_resumed_development_run_stays_on_the_development_split(tmp_path, sldbench_dir):
    out = tmp_path / "run"
    common = ("--data-dir", str(sldbench_dir), "--quiet")
    first = discover("run", "--task", "parallel", "--dev", "--max-evals", "30", "--out", str(out), *common)
    assert first.returncode == 0, first.stderr
    assert "(development split)" in first.stdout and "dev R²" in first.stdout
    before = json.loads((out / "final.json").read_text())["laws"]
    resumed = discover("run", "--resume", str(out), *common)  # nothing left to search: the same laws, rescored
    assert resumed.returncode == 0, resumed.stderr
    after = json.loads((out / "final.json").read_text())["laws"]
    assert [law["test"]["r2"] for law in after] == pytest.approx([law["test"]["r2"] for law in before], abs=1e-6)
    refused = discover("run", "--resume", str(out), "--dev", *common)
    assert refused.returncode == 2 and "keeps the split" in refused.stderr


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc")
def test_killing_the_bench_ends_the_runs_it_started(tmp_path, sldbench_dir):
    out = tmp_path / "bench"
    bench = subprocess.Popen([sys.executable, "-m", "discover", "bench", "--tasks", "parallel", "--seeds", "2",
                              "--budget", "60", "--jobs", "2", "--out", str(out), "--data-dir", str(sldbench_dir),
                              "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        logs = [run_dir(out, "parallel_scaling_law", s) / "candidates.jsonl" for s in (0, 1)]
        deadline = time.monotonic() + 120
        while not any(p.is_file() and p.stat().st_size for p in logs):
            assert time.monotonic() < deadline and bench.poll() is None, "no run started"
            time.sleep(0.2)
        workers = _children(bench.pid)
        assert workers
    finally:
        bench.kill()  # SIGKILL: the bench gets no chance to stop its workers itself
        bench.wait()
    deadline = time.monotonic() + 20
    while any(_running(w) for w in workers):
        assert time.monotonic() < deadline, "the runs went on after the bench was killed"
        time.sleep(0.2)
    sizes = [p.stat().st_size if p.is_file() else 0 for p in logs]
    time.sleep(1.0)
    assert [p.stat().st_size if p.is_file() else 0 for p in logs] == sizes
