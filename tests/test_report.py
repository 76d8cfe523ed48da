"""``discover report``: the content gathered from a real run matches the run's files; the exporters
render all of it, self-contained; missing data, changed data and unfinished runs still render."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from markupsafe import escape

from discover.errors import ExprError, UserError
from discover.report import build, write_report
from discover.report.bench_content import BenchReport, load_bench
from discover.report.content import RunReport, load_run, recommend_rule
from discover.report.fit_view import main_variable
from discover.score import score

SLDBENCH = Path(__file__).parents[1].parent / "shared" / "data" / "sldbench"
TASK = "parallel_scaling_law"
_CACHE: dict[str, Path] = {}


# --- shared fixtures (also used by test_report_browser.py) ----------------------------------------


def make_run(tmp_path_factory) -> Path:
    """A small real run (300 candidates: the same laws on any machine), made once per session."""
    if "run" not in _CACHE:
        from discover.data import load_dataset
        from discover.runner import start_run
        from discover.search.loop import SearchConfig
        from discover.tasks import find_task

        assert SLDBENCH.is_dir(), f"the SLDBench data is expected in {SLDBENCH}"
        task = find_task(TASK)
        ds = load_dataset(task, SLDBENCH, download=False)
        out = tmp_path_factory.mktemp("report-run") / "run"
        start_run(task, ds, out, SearchConfig(budget=600, max_evals=300, seed=0, max_params=task.max_params),
                  command=f"discover run --task {TASK} --max-evals 300 --data-dir {SLDBENCH} --out {out}")
        _CACHE["run"] = out
    return _CACHE["run"]


def make_bench(tmp_path_factory) -> Path:
    """A bench folder in the layout of discover/bench.py, around the session's run."""
    if "bench" not in _CACHE:
        run = make_run(tmp_path_factory)
        root = tmp_path_factory.mktemp("report-bench") / "bench"
        shutil.copytree(run, root / "runs" / TASK / "seed0")
        final = json.loads((run / "final.json").read_text())
        rec = next(d for d in final["laws"] if d["recommended"])
        r2 = rec["test"]["r2_raw"]
        human = json.loads((SLDBENCH / TASK / "human_law.json").read_text())["published_test_r2"]
        results = {
            "version": "0.1.0", "seeds": 1, "budget": 10.0, "jobs": 1,
            "tasks": [{"task": TASK, "runs": [{"seed": 0, "status": "ok", "r2": r2, "formula": rec["text"]}],
                       "runs_ok": 1, "r2_mean": r2, "r2_best": r2, "formula": rec["text"],
                       "human_published_r2": human, "human_refit_r2": human, "human_note": ""}],
            "overview": [
                {"system": "discover, mean of seeds", "r2": {TASK: r2}, "mean": r2},
                {"system": "discover, best seed", "r2": {TASK: r2}, "mean": r2},
                {"system": "human law, published parameters", "r2": {TASK: human}, "mean": human},
                {"system": "human law, refitted by discover", "r2": {TASK: human}, "mean": human},
                {"system": "SLDAgent + GPT-5 (paper)", "r2": {TASK: 1.0}, "mean": None},
            ],
            "reference": {"source": "SLDBench paper, Table 3", "tasks": [TASK], "rows": []},
        }
        (root / "results.json").write_text(json.dumps(results))
        _CACHE["bench"] = root
    return _CACHE["bench"]


@pytest.fixture(scope="session")
def report_run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory)


@pytest.fixture(scope="session")
def run_report(report_run_dir) -> RunReport:
    return load_run(report_run_dir, SLDBENCH)


@pytest.fixture(scope="session")
def run_html(report_run_dir, tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("report-html") / "report.html"
    write_report(report_run_dir, out, "html", SLDBENCH)
    return out, out.read_text(encoding="utf-8")


def _read(run: Path, name: str):
    return json.loads((run / name).read_text())


def _candidates(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines() if line.strip()]


# --- content ---------------------------------------------------------------------------------------


def test_every_frontier_law_is_in_the_report_with_the_run_files_numbers(run_report, report_run_dir):
    final = _read(report_run_dir, "final.json")["laws"]
    summary = _read(report_run_dir, "summary.json")
    by_id = {law.id: law for law in run_report.laws}
    assert set(by_id) == {d["id"] for d in final}
    for d in final:
        law = by_id[d["id"]]
        assert (law.text, law.complexity, law.n_params, law.origin) == (d["text"], d["complexity"], d["n_params"],
                                                                          d["origin"])
        assert law.recommended == d["recommended"]
        for split in ("train", "val", "test"):
            assert getattr(law, split).as_dict() == d[split]
        assert [list(p) for p in law.params] == d["params"]
        assert law.latex and law.refitted
    assert {law.id for law in run_report.frontier} == set(summary["frontier"])
    assert run_report.recommended is not None and run_report.recommended.id == summary["recommended"]["id"]
    labels = [law.label for law in run_report.frontier]
    assert labels == [f"L{i + 1}" for i in range(len(labels))]
    assert [law.complexity for law in run_report.frontier] == sorted(law.complexity for law in run_report.frontier)
    # the recommended law is chosen on validation folds and may lie off the frontier: it is still shown, as "R"
    rec = run_report.recommended
    assert rec in run_report.shown
    assert (rec.label == "R") == (rec.id not in set(summary["frontier"]))


def test_points_history_and_metadata_match_the_run_files(run_report, report_run_dir):
    cands = _candidates(report_run_dir)
    summary, config = _read(report_run_dir, "summary.json"), _read(report_run_dir, "config.json")
    assert config["split"] == "test"
    ok = [c for c in cands if c["ok"] and np.isfinite(c["val"]["nmse"])]
    assert len(run_report.points) == len(ok)
    assert {p.id for p in run_report.points} == {c["id"] for c in ok}
    h = run_report.history
    assert h.evaluations == summary["evaluations"] and h.failed == summary["failed"]
    assert h.origins == summary["origins"] and h.frontier_origins == summary["frontier_origins"]
    assert len(h.ids) == len(cands)
    assert h.best_r2[-1] == pytest.approx(min(1.0, max(c["val"]["r2_raw"] for c in ok)))
    assert h.rate == pytest.approx(summary["evaluations"] / summary["elapsed"])
    m = run_report.meta
    assert m.task == TASK and m.seed == config["search"]["seed"] and m.budget == config["search"]["budget"]
    assert m.command == config["command"] and m.version == config["version"]
    assert m.checksums == config["data"]["sha256"] and m.checksum_status == "match"
    assert dict(m.items())["data checksums"] == "match"
    assert m.refit_weight == config["search"]["refit_weight"]
    assert f"counted {m.refit_weight} times" in dict(m.items())["final refit"]
    assert run_report.notes == ()


def test_fit_data_reproduces_the_recommended_laws_test_score(run_report):
    rec, f = run_report.recommended, run_report.fit
    assert f is not None and f.law == rec.label
    assert f.main == "parallel_size" and "validation rule" in f.why  # the rule holds out the top parallel_size
    assert f.extrapolates  # test holds out parallel_size = 8, beyond train's 4
    test = score(f.observed[f.is_test], f.predicted[f.is_test])
    assert test.r2 == pytest.approx(rec.test.r2, abs=1e-9)
    train = score(f.observed[~f.is_test], f.predicted[~f.is_test])
    assert train.r2 == pytest.approx(rec.train.r2, abs=1e-9)
    assert int(f.is_test.sum()) == run_report.meta.rows["test"]


def test_human_law_is_placed_by_the_search_protocol(run_report):
    h = run_report.human
    published = json.loads((SLDBENCH / TASK / "human_law.json").read_text())["published_test_r2"]
    assert h is not None and h.val is not None and np.isfinite(h.val.nmse)
    assert h.score == h.val.nmse  # parallel has no selection fold: one slice, as its laws
    assert h.test_published.r2 == pytest.approx(published, abs=1e-6)
    assert h.params == ("A", "k", "alpha", "E") and r"\alpha" in h.latex
    assert h.complexity > 0


def test_recommend_rule_is_the_archives_own_description():
    import inspect

    from discover.archive import recommend

    words = " ".join((inspect.getdoc(recommend) or "").split()).replace("``", "")
    text = recommend_rule()
    assert text and text.split(":")[-1].strip()[:40] in words or text[:40] in words


def test_main_variable_follows_the_validation_rule_else_the_widest_range():
    X = {"N": np.array([1e6, 1e9]), "D": np.array([1e9, 1e10]), "lr": np.array([1e-4, 1e-2]), "p": np.array([0, 1.0])}
    assert main_variable(("N", "D", "lr"), X, "top value of D")[0] == "D"
    assert main_variable(("N", "D", "lr"), X, "top 2 values of D or top 2 values of N")[0] == "N"
    assert main_variable(("N", "D", "lr"), X, "random 20% per group")[0] == "N"
    assert main_variable(("p",), X, "random 20%")[2] is False  # not positive: linear axis
    assert main_variable(("N", "Nx"), {"N": X["N"], "Nx": X["D"]}, "top value of Nx")[0] == "Nx"


# --- formulas --------------------------------------------------------------------------------------


def test_formulas_are_typeset_offline_and_never_evaluated():
    from discover.report.math import render, to_latex

    latex = to_latex("min(p0*num_params, p1) + abs(p2) + exp(-p3*sqrt(parallel_size)) + tanh(p4)/log(num_params)",
                     ["num_params", "parallel_size"])
    assert r"\mathrm{num\_params}" in latex and "p_{0}" in latex
    svg = render(latex)
    assert svg.startswith(b"<?xml") and b"<path" in svg and b"<text" not in svg  # glyphs as paths: no fonts
    with pytest.raises(ExprError):
        to_latex("__import__('os').system('true')", ["num_params"])


# --- exporters -------------------------------------------------------------------------------------


def test_html_is_self_contained_and_holds_every_law(run_html, run_report):
    path, html = run_html
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "nothing may be loaded from the network"
    assert not re.search(r"@import|url\(\s*['\"]?https?:", html)
    srcs = re.findall(r'<img[^>]* src="([^"]+)"', html)
    assert srcs and all(s.startswith("data:image/svg+xml;base64,") for s in srcs)
    for law in run_report.frontier:
        assert f'id="{run_report.anchor}-law-{law.id}"' in html
        assert f"<code>{law.text}</code>" in html
    assert html.count('class="formula"') >= len(run_report.frontier) + 2  # + recommended card + human law
    for plot in ("frontier", "fit", "residuals", "history"):
        assert f'id="{run_report.anchor}-plot-{plot}"' in html
    rec = run_report.recommended
    assert f"{rec.test.r2:.4f}" in html and escape(f"chosen: {run_report.rule}") in html
    for sha in run_report.meta.checksums.values():
        assert sha in html


def test_markdown_writes_pngs_beside_it(report_run_dir, run_report, tmp_path):
    out = write_report(report_run_dir, tmp_path / "paper" / "law.md", "md", SLDBENCH)
    text = out.read_text(encoding="utf-8")
    files = sorted((tmp_path / "paper" / "law_files").iterdir())
    assert [f.name for f in files] == ["fit.png", "frontier.png", "history.png", "residuals.png"]
    assert all(f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in files)
    for f in files:
        assert f"](law_files/{f.name})" in text
    for law in run_report.frontier:
        assert f"`{law.text}`" in text and law.latex in text
    assert "| human law |" in text and run_report.meta.checksums["train.parquet"] in text


def test_default_output_is_inside_the_run_folder(report_run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(report_run_dir, run)
    assert write_report(run, data_dir=SLDBENCH) == run / "report.html"
    assert (run / "report.html").is_file()
    with pytest.raises(UserError):
        write_report(run, fmt="pdf")
    with pytest.raises(UserError):
        build(tmp_path / "nowhere")


# --- what is missing or changed still renders --------------------------------------------------------


def test_without_data_the_report_renders_without_fit_plots(report_run_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("DISCOVER_DATA", raising=False)
    monkeypatch.setenv("DISCOVER_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    shutil.copytree(report_run_dir, run)
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"]["source"] = str(tmp_path / "moved" / TASK)
    (run / "config.json").write_text(json.dumps(cfg))
    empty = tmp_path / "empty"
    empty.mkdir()
    report = load_run(run, empty)
    assert report.fit is None and report.meta.checksums_now is None
    assert any("could not be loaded" in n for n in report.notes)
    assert report.meta.checksum_status.startswith("data not found")
    assert report.human is not None and report.human.val is None  # shown, not placed
    html = write_report(run, tmp_path / "r.html", "html", empty).read_text()
    assert "could not be loaded" in html and "-plot-fit" not in html and "-plot-frontier" in html


def test_changed_data_is_reported(report_run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(report_run_dir, run)
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"]["sha256"]["train.parquet"] = "0" * 64
    (run / "config.json").write_text(json.dumps(cfg))
    report = load_run(run, SLDBENCH, human=False)
    assert report.meta.checksum_status.startswith("DIFFER")
    assert any("differ from the run's" in n for n in report.notes)


def test_extreme_fitted_constants_are_flagged_not_hidden():
    from discover.final import extreme_parameters

    names, units = ("p0", "p1", "p2"), ("a", "b")
    note = extreme_parameters("L3", names, ((2.0, 2.8e54, -98.0), (1.5, 3.0, 0.5)), units)
    assert "L3" in note and "p1 = 2.8e+54 in a" in note and "p2" not in note and "p0" not in note
    assert extreme_parameters("L3", names, ((2.0, 3.0e5, -98.0),), units) == ""
    assert extreme_parameters("L3", names, ((2.0, 3.0e5, -98.0),), units, limit=1e5)  # the limit is the caller's
    four = extreme_parameters("L3", ("p0",), ((1e7,), (-2e9,), (3e8,), (4e10,)), ("a",))
    assert "p0 = 4e+10 in unit 3, p0 = -2e+09 in unit 1, p0 = 3e+08 in unit 2 and 1 more" in four


def test_a_run_whose_law_leans_on_a_degenerate_constant_says_so_in_its_report_and_show(report_run_dir, tmp_path):
    from rich.console import Console

    from discover.display import print_run

    def shown(path: Path) -> str:  # what `discover show` prints
        console = Console(width=200, file=io.StringIO())
        print_run(path, console)
        return console.file.getvalue()

    run = tmp_path / "run"
    shutil.copytree(report_run_dir, run)
    final = json.loads((run / "final.json").read_text())
    rec = next(d for d in final["laws"] if d["recommended"])
    before = load_run(run, SLDBENCH, human=False)
    assert not any("extreme size" in n for n in before.notes)  # the real run's constants are sane
    assert "extreme size" not in shown(run)
    assert json.loads((run / "config.json").read_text())["target_size"] > 1  # parallel's losses: the limit scales
    rec["params"][0][-1] = 2.8e54
    (run / "final.json").write_text(json.dumps(final))
    report = load_run(run, SLDBENCH, human=False)
    assert any("extreme size" in n and f"{rec['names'][-1]} = 2.8e+54" in n for n in report.notes)
    md = write_report(run, tmp_path / "r.md", "md", SLDBENCH, human=False).read_text()
    assert "2.8e+54" in md and "carry no meaning of their own" in md
    note = f"note: the recommended law has fitted parameters of extreme size ({rec['names'][-1]} = 2.8e+54"
    assert note in shown(run)


def test_an_unfinished_run_shows_its_search_time_frontier(report_run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(report_run_dir, run)
    (run / "final.json").unlink()
    (run / "summary.json").unlink()
    report = load_run(run, SLDBENCH, human=False)
    assert not report.finished and any("not finished" in n for n in report.notes)
    assert report.laws and all(law.test is None and not law.refitted for law in report.laws)
    assert sum(law.recommended for law in report.laws) == 1
    assert report.fit is not None  # the search-time parameters are drawn
    html = write_report(run, tmp_path / "r.html", "html", SLDBENCH).read_text()
    assert "has not finished" in html


def test_llm_usage_is_reported_when_an_llm_was_used(report_run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(report_run_dir, run)
    summary = json.loads((run / "summary.json").read_text())
    summary["llm"] = {"model": "fake-model", "calls": 3, "failed_calls": 0, "retries": 0, "total_tokens": 4321,
                      "prompt_tokens": 4000, "completion_tokens": 321, "proposed": 7, "rejected": 2,
                      "rejection_reasons": {"unknown name: foo": 2}, "frontier_laws": 1}
    (run / "summary.json").write_text(json.dumps(summary))
    report = load_run(run, SLDBENCH, human=False)
    assert any("4,321 tokens" in line for line in report.history.llm_lines)
    html = write_report(run, tmp_path / "r.html", "html", SLDBENCH).read_text()
    assert "4,321 tokens" in html and "fake-model" in html and "not used" not in html


# --- bench -----------------------------------------------------------------------------------------


def test_bench_report_table_and_run_sections(tmp_path_factory):
    root = make_bench(tmp_path_factory)
    bench = build(root, SLDBENCH)
    assert isinstance(bench, BenchReport)
    assert [t.task for t in bench.tasks] == [TASK] and bench.tasks[0].best_seed == 0
    assert len(bench.runs) == 1 and bench.runs[0].anchor == bench.tasks[0].anchor
    by_system = {r.system: r for r in bench.rows}
    assert set(by_system) >= {"discover, mean of seeds", "human law, published parameters"}
    disc, human = by_system["discover, mean of seeds"].cells[0], by_system["human law, published parameters"].cells[0]
    assert ("beats" in disc.css) == (disc.value >= human.value)
    assert "win" in by_system["SLDAgent + GPT-5 (paper)"].cells[0].css  # 1.0 is the best in the column
    steps: list[str] = []  # a bench report takes a while: each task is announced
    out = write_report(root, root / "bench.html", "html", SLDBENCH, progress=steps.append)
    assert steps == [f"reading {TASK} (1/1)", f"drawing {TASK} (1/1)"]
    html = out.read_text()
    assert f'href="#{bench.tasks[0].anchor}"' in html and f'id="{bench.tasks[0].anchor}"' in html
    steps.clear()
    md = write_report(root, root / "bench.md", "md", SLDBENCH, progress=steps.append).read_text()
    assert steps == [f"reading {TASK} (1/1)", f"drawing {TASK} (1/1)"]
    assert f'<a id="{TASK}"></a>' in md and f"(#{TASK})" in md
    assert (root / "bench_files" / f"{TASK}-frontier.png").is_file()


def test_bench_sections_drawn_on_two_processes_are_the_ones_drawn_on_one(tmp_path_factory, tmp_path):
    root = tmp_path / "bench"
    shutil.copytree(make_bench(tmp_path_factory), root)
    shutil.copytree(root / "runs" / TASK, root / "runs" / "second")  # a second section to draw
    results = json.loads((root / "results.json").read_text())
    results["tasks"].append({**results["tasks"][0], "task": "second"})
    (root / "results.json").write_text(json.dumps(results))
    stamp = re.compile(r"on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w*")  # generated(): the only difference
    for fmt in ("html", "md"):
        steps: list[str] = []
        one = write_report(root, tmp_path / f"one.{fmt}", fmt, SLDBENCH, jobs=1).read_text()
        two = write_report(root, tmp_path / f"two.{fmt}", fmt, SLDBENCH, jobs=2, progress=steps.append).read_text()
        assert one.count('id="run-') + one.count("<a id=") >= 2
        assert stamp.sub("", one).replace("one_files", "F") == stamp.sub("", two).replace("two_files", "F")
        assert sorted(s for s in steps if s.startswith("drawn")) == ["drawn parallel_scaling_law (1/2)",
                                                                     "drawn parallel_scaling_law (2/2)"]
    for name in ("frontier", "fit"):  # the PNGs the workers wrote
        assert (tmp_path / "one_files" / f"{TASK}-{name}.png").read_bytes() == \
            (tmp_path / "two_files" / f"{TASK}-{name}.png").read_bytes()


def test_bench_without_results_json_is_rebuilt_from_runs(tmp_path_factory, tmp_path):
    root = tmp_path / "bench"
    shutil.copytree(make_bench(tmp_path_factory) / "runs", root / "runs")
    bench = load_bench(root, SLDBENCH, human=False)
    assert any("results.json" in n for n in bench.notes)
    assert bench.tasks[0].runs_ok == 1 and bench.tasks[0].r2_mean is None
    assert len(bench.runs) == 1


# --- command line ----------------------------------------------------------------------------------


def test_cli_report_prints_the_path(report_run_dir, tmp_path):
    from click.testing import CliRunner

    from discover.cli import cli

    out = tmp_path / "x.html"
    result = CliRunner().invoke(cli, ["report", str(report_run_dir), "-o", str(out), "--data-dir", str(SLDBENCH)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out) and out.is_file()
    result = CliRunner().invoke(cli, ["report", str(report_run_dir), "-o", str(tmp_path / "x.md"), "--format", "md",
                                      "--data-dir", str(SLDBENCH)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x_files" / "frontier.png").is_file()


def test_a_development_run_is_labelled_and_plotted_on_its_own_split(tmp_path):
    from discover.data import DEVELOPMENT, development_split, load_dataset
    from discover.runner import start_run
    from discover.search.loop import SearchConfig
    from discover.tasks import find_task

    task = find_task(TASK)
    out = tmp_path / "dev-run"
    start_run(task, development_split(load_dataset(task, SLDBENCH, download=False)), out,
              SearchConfig(budget=3, seed=0, max_params=task.max_params), extra={"split": DEVELOPMENT})
    report = load_run(out, SLDBENCH)
    assert any(n.startswith("development split") for n in report.notes)
    rec, f = report.recommended, report.fit
    test = score(f.observed[f.is_test], f.predicted[f.is_test])  # the held-out slice, not SLDBench's test rows
    assert test.r2 == pytest.approx(rec.test.r2, abs=1e-9) and int(f.is_test.sum()) == report.meta.rows["test"]


def test_the_human_law_is_placed_by_the_search_score_fitted_or_with_published_constants():
    # vocab scores two steps out: the human law and the same form found by search share a point
    from discover.data import load_dataset
    from discover.evaluate import Candidate, evaluate
    from discover.expr import parse
    from discover.fit import FitConfig
    from discover.problem import make_problem
    from discover.report.human import human_law_view
    from discover.tasks import find_task

    task = find_task("vocab")
    ds = load_dataset(task, SLDBENCH, download=False)
    problem = make_problem(ds, seed=0)
    same = parse("p0 + p1*non_vocab_parameters**p2 + p3*num_characters**p4 + p5*vocab_size**p6", problem.symbols)
    found = evaluate(Candidate(expr=same, origin="user"), problem, FitConfig(starts=4, time_limit=5), 0, 12)
    view, note = human_law_view({"search": {"seed": 0, "two_steps": True}}, task, ds, problem.symbols, scores={})
    assert not note and found.fold is not None
    assert view.score == pytest.approx(found.val_nmse, rel=1e-4)
    assert view.val.nmse == pytest.approx(found.val.nmse, rel=1e-4)
    # published constants, not refitted (data_constrained): scored on the same two steps, unfitted
    task = find_task("data_constrained")
    ds = load_dataset(task, SLDBENCH, download=False)
    cfg = {"search": {"seed": 0, "two_steps": True}}
    view, note = human_law_view(cfg, task, ds, make_problem(ds, seed=0).symbols, scores={})
    assert not note and view.note == "published constants, not refitted"
    assert view.score != pytest.approx(view.val.nmse) and np.isfinite(view.score)


def test_the_frontier_plot_names_the_score_it_places_laws_by(run_report):
    import dataclasses

    from discover.report.plots import frontier_plot

    assert run_report.frontier and all(law.score == law.val.nmse for law in run_report.frontier)  # parallel: one slice
    assert frontier_plot(run_report).axes[0].get_ylabel().startswith("validation NMSE")
    two = dataclasses.replace(run_report, laws=tuple(dataclasses.replace(law, score=2 * law.val.nmse)
                                                     for law in run_report.laws))
    assert "two steps out" in frontier_plot(two).axes[0].get_ylabel()


def test_the_fit_plot_bands_the_predictions_of_the_laws_the_choice_could_not_tell_apart(report_run_dir, tmp_path):
    """At each row, the band runs from the lowest to the highest prediction of the admitted laws
    (final.json keeps them with their fits on all of train); the captions say what it is."""
    run = tmp_path / "run"
    shutil.copytree(report_run_dir, run)
    final = json.loads((run / "final.json").read_text())
    assert final["selection"]["admitted"][0] == next(d["id"] for d in final["laws"] if d["recommended"])
    two = [d for d in final["laws"] if d["params"]][-2:]
    final["selection"]["admitted"] = [d["id"] for d in two]
    (run / "final.json").write_text(json.dumps(final))
    f = load_run(run, SLDBENCH, human=False).fit
    assert f.admitted == 2 and not f.curves  # parallel: more settings of num_params than curves are drawn for
    ys = []
    for d in two:  # each law's predictions at the rows, as the report computes the recommended law's
        final["laws"] = [{**w, "recommended": w["id"] == d["id"]} for w in final["laws"]]
        (run / "final.json").write_text(json.dumps(final))
        ys.append(load_run(run, SLDBENCH, human=False).fit.predicted)
    assert np.allclose(f.low, np.minimum(*ys)) and np.allclose(f.high, np.maximum(*ys))
    assert (f.high - f.low).max() > 0
    final["laws"] = [{**w, "recommended": w["id"] == two[0]["id"]} for w in final["laws"]]
    (run / "final.json").write_text(json.dumps(final))
    md = write_report(run, tmp_path / "r.md", "md", SLDBENCH, human=False).read_text()
    assert "Band (a bar at each row): the range of the predictions of the 2 laws the choice could not tell" in md
    del final["selection"]["admitted"]  # a run recorded before admitted laws were kept: no band
    (run / "final.json").write_text(json.dumps(final))
    f = load_run(run, SLDBENCH, human=False).fit
    assert f.admitted == 0 and len(f.low) == 0
    assert "Band" not in write_report(run, tmp_path / "r2.md", "md", SLDBENCH, human=False).read_text()


def test_curves_band_the_admitted_laws_along_the_main_variable():
    from discover.expr import parse
    from discover.fit import analyse, predict
    from discover.problem import Rows
    from discover.report.fit_view import _curves

    x = np.array([1.0, 2.0, 4.0, 8.0])
    rows_ = Rows(X={"n": x}, y=np.zeros(4), unit=np.zeros(4, dtype=np.int64), n=4, n_targets=1)
    empty = Rows(X={"n": np.zeros(0)}, y=np.zeros(0), unit=np.zeros(0, dtype=np.int64), n=0, n_targets=1)
    laws = [(analyse(parse(t, ["n"])), np.array([[1.0, 0.5]])) for t in ("p0 + p1*log(n)", "p0*n**p1")]
    (curve,) = _curves(laws[0][0], laws[0][1], rows_, empty, "n", [], {"n": 1.0}, True, laws)
    ys = [predict(st, p, {"n": np.array(curve.x)}, np.zeros(len(curve.x), dtype=np.int64)) for st, p in laws]
    assert np.allclose(curve.low, np.minimum(*ys)) and np.allclose(curve.high, np.maximum(*ys))
    (plain,) = _curves(laws[0][0], laws[0][1], rows_, empty, "n", [], {"n": 1.0}, True)
    assert plain.low == () and plain.y == curve.y
