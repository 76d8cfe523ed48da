"""Every user error ends in one clear line and exit code 2, never a traceback."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest


def discover(*args, env_extra=None, cwd=None):
    import os

    env = dict(os.environ)
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-m", "discover", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def assert_clean_error(code, stderr, *needles):
    assert code == 2, stderr
    assert "Traceback" not in stderr
    for n in needles:
        assert n.lower() in stderr.lower(), stderr


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = "N,D,loss\n" + "".join(f"{n},{d},{2 + 10 / n ** 0.3 + 5 / d ** 0.2}\n" for n in (1, 2, 4, 8, 16, 32)
                               for d in (10, 20, 40, 80))


def test_unknown_task(sldbench_dir):
    code, _, err = discover("run", "--task", "nonsense_law", "--data-dir", str(sldbench_dir))
    assert_clean_error(code, err, "nonsense_law")


def test_missing_data(tmp_path):
    code, _, err = discover("run", "--task", "vocab", "--data-dir", str(tmp_path / "empty"),
                            env_extra={"HF_ENDPOINT": "http://127.0.0.1:9", "DISCOVER_CACHE": str(tmp_path / "c")})
    assert_clean_error(code, err, "vocab_scaling_law")
    assert len(err.strip().splitlines()) <= 3


def test_csv_that_does_not_exist(tmp_path):
    code, _, err = discover("run", "--csv", str(tmp_path / "nope.csv"), "--inputs", "N", "--target", "loss")
    assert code == 2 and "Traceback" not in err


def test_bad_csv(tmp_path):
    p = write(tmp_path, "bad.csv", "this is not\x00 a csv\n\x01\x02")
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N", "--target", "loss")
    assert code == 2 and "Traceback" not in err


def test_unknown_column(tmp_path):
    p = write(tmp_path, "runs.csv", GOOD)
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N,Q", "--target", "loss")
    assert_clean_error(code, err, "Q")


def test_non_numeric_value(tmp_path):
    p = write(tmp_path, "runs.csv", GOOD.replace("\n16,", "\nabc,", 1))
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N,D", "--target", "loss")
    assert_clean_error(code, err, "abc")


def test_nan_value(tmp_path):
    lines = GOOD.splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + ",nan"
    p = write(tmp_path, "runs.csv", "\n".join(lines) + "\n")
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N,D", "--target", "loss")
    assert_clean_error(code, err, "nan")


def test_fewer_rows_than_parameters(tmp_path):
    p = write(tmp_path, "runs.csv", "N,loss\n1,3.0\n2,2.5\n4,2.2\n")
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N", "--target", "loss", "--budget", "5")
    assert_clean_error(code, err, "rows")


def test_bad_holdout_rule(tmp_path):
    p = write(tmp_path, "runs.csv", GOOD)
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N,D", "--target", "loss", "--holdout", "biggest N")
    assert_clean_error(code, err, "largest", "test: bad holdout rule 'biggest N'")  # --holdout's rule, named so
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N,D", "--target", "loss", "--validation", "big N")
    assert_clean_error(code, err, "validation: bad holdout rule 'big N'")


def test_task_and_csv_together(tmp_path, sldbench_dir):
    p = write(tmp_path, "runs.csv", GOOD)
    code, _, err = discover("run", "--task", "vocab", "--csv", str(p), "--inputs", "N", "--target", "loss")
    assert_clean_error(code, err, "either")


@pytest.mark.parametrize("args", [["show", "/nonexistent/run"], ["run", "--resume", "/nonexistent/run"]])
def test_not_a_run_folder(args):
    code, _, err = discover(*args)
    assert_clean_error(code, err, "/nonexistent/run: no such folder")


def test_a_resumed_run_keeps_its_own_limits_unless_given_larger_ones(tmp_path, sldbench_dir):
    run = tmp_path / "run"
    common = ["--data-dir", str(sldbench_dir)]

    def candidates() -> int:
        return len((run / "candidates.jsonl").read_text().splitlines())

    def limits() -> tuple:
        search = json.loads((run / "config.json").read_text())["search"]
        return search["budget"], search["max_evals"]

    code, _, err = discover("run", "--task", "parallel", "--max-evals", "30", "--budget", "600", "--out", str(run),
                            "--quiet", *common)
    assert code == 0, err
    assert candidates() == 30 and limits() == (600, 30)
    code, _, err = discover("run", "--resume", str(run), *common)  # no --budget: its own 600 s, not 120 s
    assert code == 0, err
    assert "resuming: 30 candidates" in err and "it has its 30 candidates, nothing more to search" in err
    assert candidates() == 30 and limits() == (600, 30)
    code, _, err = discover("run", "--resume", str(run), "--max-evals", "45", *common)
    assert code == 0, err
    assert "searching on to 600s or 45 candidates" in err
    assert candidates() == 45 and limits() == (600, 45)  # recorded: the next resume starts from these
    changed = tmp_path / "changed"
    shutil.copytree(sldbench_dir / "parallel_scaling_law", changed / "parallel_scaling_law")
    for name in ("train.parquet", "train.csv"):
        (changed / "parallel_scaling_law" / name).write_bytes(b"x" + (changed / "parallel_scaling_law" / name)
                                                              .read_bytes())
    code, _, err = discover("run", "--resume", str(run), "--max-evals", "60", "--data-dir", str(changed))
    assert code == 2 and limits() == (600, 45)  # refused before anything is recorded
    code, _, err = discover("run", "--resume", str(run), "--seed", "3", "--task", "moe", *common)
    assert_clean_error(code, err, "--task, --seed: for new runs only")


def test_show_on_a_folder_of_runs_names_the_runs_in_it(tmp_path):
    runs = tmp_path / "runs" / "mytask"
    for stamp in ("20261201-000000-seed0", "20261202-000000-seed1"):
        (runs / stamp).mkdir(parents=True)
        (runs / stamp / "config.json").write_text("{}")
    code, _, err = discover("show", str(tmp_path / "runs"))
    assert_clean_error(code, err, "is not a run folder", "run folders below it:", "20261201-000000-seed0",
                       "20261202-000000-seed1")


def test_help_explains_the_commands():
    code, out, _ = discover("--help")
    assert code == 0
    for cmd in ("run", "show", "tasks"):
        assert cmd in out
    code, out, _ = discover("run", "--help")
    assert code == 0 and "--budget" in out and "--holdout" in out


def test_tasks_lists_the_data_found_and_says_how_to_get_the_rest(tmp_path, sldbench_dir):
    data = tmp_path / "data"
    shutil.copytree(sldbench_dir / "moe_scaling_law", data / "moe_scaling_law")
    shutil.copytree(sldbench_dir / "parallel_scaling_law", data / "parallel_scaling_law")
    for name in ("train.parquet", "train.csv"):  # a damaged file: its checksum no longer matches
        (data / "parallel_scaling_law" / name).write_bytes(b"x" + (data / "parallel_scaling_law" / name).read_bytes())
    env = {"DISCOVER_CACHE": str(tmp_path / "empty-cache"), "DISCOVER_DATA": "", "COLUMNS": "250"}
    code, out, err = discover("tasks", "--data-dir", str(data), env_extra=env)
    assert code == 0, err
    moe = next(line for line in out.splitlines() if "moe_scaling_law" in line)
    assert "193" in moe and "28" in moe and "the published split" in moe  # train and test rows found
    vocab = next(line for line in out.splitlines() if "vocab_scaling_law" in line)
    assert "not here" in vocab
    assert "not here: 6 task(s) have no data in" in err and "discover run --task NAME` downloads" in err
    assert "error: parallel_scaling_law:" in err and "sha256" in err.lower()


def test_csv_run_end_to_end(tmp_path):
    p = write(tmp_path, "runs.csv", GOOD)
    code, out, err = discover("run", "--csv", str(p), "--inputs", "N,D", "--target", "loss", "--holdout",
                              "largest 20% of N*D", "--budget", "8", "--out", str(tmp_path / "run"), "--quiet")
    assert code == 0, err
    assert "test R²" in out and "recommended law" in out
    selection = json.loads((tmp_path / "run" / "final.json").read_text())["selection"]
    assert selection["rule"] == "folds" and selection["folds"] >= 2  # fewer when a fold is too small for a law
    assert all(len(v) == selection["folds"] for v in selection["fold_nmse"].values())
    assert all(len(v) == selection["folds"] for v in selection["fold_nmse_se"].values())
    assert f"on {selection['folds']} forward-chaining validation folds" in out.replace("\n", " ")
    code, out2, _ = discover("show", str(tmp_path / "run"))
    assert code == 0 and "recommended law" in out2


def test_default_holdout_works_with_a_column_name_that_is_not_an_identifier(tmp_path):
    p = write(tmp_path, "runs.csv", "model size,loss\n" + "".join(f"{n},{2 + 1 / n ** 0.5}\n" for n in range(1, 31)))
    code, out, err = discover("run", "--csv", str(p), "--inputs", "model size", "--target", "loss", "--budget", "4",
                              "--out", str(tmp_path / "run"), "--quiet")
    assert code == 0, err
    assert "recommended law" in out


def test_refit_weight_is_recorded_and_used_and_checked(tmp_path):
    from discover.problem import NEAR_WEIGHT

    code, out, _ = discover("run", "--help")
    assert code == 0 and f"Default: {NEAR_WEIGHT}." in " ".join(out.split())
    bumpy = "N,D,loss\n" + "".join(f"{n},{d},{2 + 10 / n ** 0.3 + 5 / d ** 0.2 + 0.03 * ((n * d) % 7 - 3)}\n"
                                   for n in (1, 2, 4, 8, 16, 32) for d in (10, 20, 40, 80))  # no law fits exactly
    p = write(tmp_path, "runs.csv", bumpy)
    common = ["run", "--csv", str(p), "--inputs", "N,D", "--target", "loss", "--holdout", "largest 20% of N*D",
              "--budget", "30", "--max-evals", "40", "--quiet"]
    laws = {}
    for weight in ("1", "30"):
        folder = tmp_path / f"w{weight}"
        code, _, err = discover(*common, "--refit-weight", weight, "--out", str(folder))
        assert code == 0, err
        assert json.loads((folder / "config.json").read_text())["search"]["refit_weight"] == int(weight)
        final = json.loads((folder / "final.json").read_text())
        laws[weight] = next(law for law in final["laws"] if law["recommended"])
    assert laws["1"]["text"] == laws["30"]["text"]  # the same search and choice (fixed end point)
    a, b = (np.array(laws[w]["params"]) for w in ("1", "30"))
    assert np.abs(a - b).max() > 1e-3 * np.abs(a).max()  # refitted with other weights

    assert_clean_error(*discover(*common, "--refit-weight", "0")[::2], "--refit-weight")
    assert_clean_error(*discover("run", "--resume", str(tmp_path / "w1"), "--refit-weight", "2")[::2], "resumed run")


@pytest.mark.parametrize("command", [["run", "--task", "moe", "--budget", "5"],
                                     ["bench", "--tasks", "moe", "--seeds", "1", "--budget", "5"]])
def test_an_output_folder_that_cannot_be_made(command, sldbench_dir, tmp_path):
    blocker = write(tmp_path, "a-file", "")  # a file where a folder would have to be made
    code, _, err = discover(*command, "--data-dir", str(sldbench_dir), "--out", str(blocker / "out"))
    assert_clean_error(code, err, "not a directory", str(blocker / "out"))


def test_a_validation_slice_too_small_to_score_on(tmp_path):
    # 8 runs: 'largest 15%' leaves one validation row, where R² has no spread to divide by
    p = write(tmp_path, "runs.csv", "N,loss\n" + "".join(f"{n},{3 + 1 / n}\n" for n in (1, 2, 4, 8, 16, 32, 64, 128)))
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N", "--target", "loss", "--budget", "5",
                            "--out", str(tmp_path / "run"))
    assert_clean_error(code, err, "validation slice", "1 row", "hold out more")
    assert not (tmp_path / "run").exists() and "run folder" not in err  # no folder announced that is not there
    code, out, err = discover("run", "--csv", str(p), "--inputs", "N", "--target", "loss", "--max-evals", "30",
                              "--validation", "largest 40% of N", "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert "run folder:" in err and "run folder:" in out  # when it starts (progress), and with the result


def test_a_constant_target(tmp_path):
    p = write(tmp_path, "runs.csv", "N,loss\n" + "".join(f"{n},3.0\n" for n in range(1, 20)))
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N", "--target", "loss", "--budget", "5")
    assert_clean_error(code, err, "train", "single value")


def test_a_negative_input_value_is_pointed_out_and_the_run_goes_on(tmp_path):
    table = GOOD.replace("\n8,", "\n-8,", 1)  # a sign error in one row of a size column
    p = write(tmp_path, "runs.csv", table)
    code, out, err = discover("run", "--csv", str(p), "--inputs", "N,D", "--target", "loss", "--max-evals", "20",
                              "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert "note: input 'N' has 1 negative value(s)" in err and "(the first: -8)" in err
    assert "input 'D'" not in err and "recommended law" in out
    code, _, err = discover("run", "--csv", str(write(tmp_path, "ok.csv", GOOD)), "--inputs", "N,D", "--target",
                            "loss", "--max-evals", "5", "--out", str(tmp_path / "run2"))
    assert code == 0 and "negative value" not in err


def test_an_input_that_never_varies_within_a_group_is_pointed_out(tmp_path):
    # one model per group: N is fixed inside each, so per-group parameters absorb it
    table = "N,D,loss,model,seq\n" + "".join(f"{n},{d},{2 + 10 / n ** 0.3 + 5 / d ** 0.2},m{n},2048\n"
                                                for n in (1, 2, 4) for d in (10, 20, 40, 80, 160, 320, 640, 1280))
    p = write(tmp_path, "runs.csv", table)
    code, out, err = discover("run", "--csv", str(p), "--inputs", "N,D,seq", "--target", "loss", "--group", "model",
                              "--holdout", "top value of D per group", "--max-evals", "10",
                              "--out", str(tmp_path / "grouped"))
    assert code == 0, err
    assert "note: input 'N' takes a single value within each group" in err and "input 'D'" not in err
    assert "note: input 'seq' takes a single value within each group" in err and "recommended law" in out
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N,D,seq", "--target", "loss", "--max-evals", "10",
                            "--out", str(tmp_path / "pooled"))
    assert code == 0, err
    assert "note: input 'seq' takes a single value in train (2048)" in err and "input 'N'" not in err


def test_a_csv_task_takes_the_name_it_is_given(tmp_path, sldbench_dir):
    p = write(tmp_path, "all.csv", GOOD)  # a file name that says nothing of the study
    code, out, err = discover("run", "--csv", str(p), "--inputs", "N,D", "--target", "loss", "--max-evals", "5",
                              "--name", "steplaw-moe", cwd=tmp_path)
    assert code == 0, err
    (run,) = (tmp_path / "runs" / "steplaw-moe").iterdir()
    assert json.loads((run / "config.json").read_text())["task"]["name"] == "steplaw-moe"
    assert "steplaw-moe — 5 candidates evaluated" in out
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N,D", "--target", "loss", "--max-evals", "5",
                            cwd=tmp_path)
    assert code == 0 and (tmp_path / "runs" / "all").is_dir()  # by default, named after the file
    for bad in ("../up", "a b", ""):
        code, _, err = discover("run", "--csv", str(p), "--inputs", "N,D", "--target", "loss", "--name", bad,
                                cwd=tmp_path)
        assert_clean_error(code, err, "--name", "names a folder")
    code, _, err = discover("run", "--task", "parallel", "--name", "x", "--data-dir", str(sldbench_dir))
    assert_clean_error(code, err, "--name names a --csv task")


def test_openai_endpoint_without_a_key_is_refused_before_the_run(tmp_path, sldbench_dir):
    env = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    code, _, err = discover("run", "--task", "parallel", "--data-dir", str(sldbench_dir), "--llm", "gpt-4o",
                            "--max-evals", "5", "--out", str(tmp_path / "run"), env_extra=env)
    assert_clean_error(code, err, "OPENAI_API_KEY", "--llm-base-url")
    assert not (tmp_path / "run").exists()


def test_a_run_where_no_law_fits_says_so_and_ends(tmp_path):
    p = write(tmp_path, "runs.csv", GOOD)
    code, out, err = discover("run", "--csv", str(p), "--inputs", "N,D", "--target", "loss", "--max-params", "1",
                              "--budget", "60", "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert "no law could be fitted" in out and "--max-params" in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["evaluations"] == 0 and summary["generations"] == 1
    # the run has finished: show, predict and report say why there is no law, not "not finished"
    code, out, _ = discover("show", str(tmp_path / "run"))
    assert code == 0 and "no law could be fitted" in out and "not finished" not in out
    code, _, err = discover("predict", str(tmp_path / "run"), "--at", "N=64,D=160")
    assert_clean_error(code, err, "no law could be fitted")
    code, _, err = discover("report", str(tmp_path / "run"), "--format", "md")
    assert code == 0, err
    text = (tmp_path / "run" / "report.md").read_text()
    assert "no law could be fitted" in text and "not finished" not in text


@pytest.mark.parametrize("option", [["--seed", "-3"], ["--max-evals", "0"], ["--max-params", "0"], ["--budget", "0"]])
def test_run_options_out_of_range(option, sldbench_dir, tmp_path):
    code, _, err = discover("run", "--task", "moe", "--data-dir", str(sldbench_dir), "--out", str(tmp_path / "r"),
                            *option)
    assert_clean_error(code, err, option[0])
    assert not (tmp_path / "r").exists()


def test_bench_jobs_out_of_range(sldbench_dir, tmp_path):
    code, _, err = discover("bench", "--tasks", "moe", "--seeds", "1", "--jobs", "0", "--data-dir", str(sldbench_dir),
                            "--out", str(tmp_path / "b"))
    assert_clean_error(code, err, "--jobs")


def test_a_single_test_row_is_flagged_as_unscorable(tmp_path):
    # holding out the one next-larger run is natural, but R² on one row is undefined
    p = write(tmp_path, "runs.csv", GOOD + "64,10,3.5\n")
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N,D", "--target", "loss", "--holdout",
                            "top value of N", "--max-evals", "30", "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert "test split has 1 row(s)" in err and "R² is undefined" in err
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N,D", "--target", "loss", "--max-evals", "30",
                            "--out", str(tmp_path / "other"))
    assert code == 0 and "undefined" not in err


def test_dry_run_shows_where_the_rows_go_and_starts_no_run(tmp_path):
    rows = ["model,N,D,loss"] + [f"{m},{n},{d},{k + 10 / n ** 0.3 + 5 / d ** 0.2}" for m, k in (("a", 2), ("b", 3))
                                 for n in (1, 2, 4, 8, 16, 32) for d in (10, 20, 40)]
    p = write(tmp_path, "runs.csv", "\n".join(rows) + "\n")
    code, out, err = discover("run", "--csv", str(p), "--inputs", "N,D", "--target", "loss", "--group", "model",
                              "--holdout", "top value of N per group", "--dry-run", cwd=tmp_path)
    assert code == 0, err
    assert "runs: 30 train rows, 6 test rows, 2 group(s)" in err
    table = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:5]]
             for line in out.splitlines() if line.startswith("│")}
    # per group: 18 rows; test = N 32 (3 rows); validation = the top N of train, N 16 (3 rows)
    assert table["a"] == table["b"] == ["12", "3", "3"] and table["all"] == ["24", "6", "6"]
    assert table["N"] == ["1 – 8", "16", "32"] and table["D"] == ["10 – 40"] * 3
    assert "selection folds" in out and not (tmp_path / "runs").exists()
    code, _, err = discover("run", "--resume", str(tmp_path), "--dry-run")
    assert_clean_error(code, err, "--dry-run: for new runs only")


def test_drop_incomplete_is_noted_recorded_and_kept_on_resume(tmp_path):
    lines = GOOD.splitlines()
    p = write(tmp_path, "runs.csv", "\n".join([*lines, "64,10,", "64,oops,2.5"]) + "\n")
    args = ["run", "--csv", str(p), "--inputs", "N,D", "--target", "loss", "--holdout", "top value of N"]
    code, _, err = discover(*args, "--max-evals", "10")
    assert_clean_error(code, err, "'D' has a non-numeric value 'oops' at row 26 (--drop-incomplete")
    code, _, err = discover(*args, "--drop-incomplete", "--max-evals", "10", "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert "note: left out 2 row(s)" in err and "runs.csv row(s) 25, 26" in err
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["task"]["drop_incomplete"] is True and cfg["rows"]["train"] + cfg["rows"]["test"] == 24
    code, out, err = discover("run", "--resume", str(tmp_path / "run"), "--max-evals", "15")
    assert code == 0, err
    assert "recommended law" in out
