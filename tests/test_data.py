"""Data loading: the eight SLDBench tasks, file layouts, lookup order, checksums, user tables and their errors."""

import hashlib
import shutil

import numpy as np
import pandas as pd
import pytest

from discover.data import Split, cache_dir, data_root, dropped_rows, load_dataset
from discover.errors import UserError
from discover.tasks import csv_task, find_task

# The README's table: train rows, test rows, groups.
COUNTS = {
    "parallel_scaling_law": (36, 12, 2),
    "vocab_scaling_law": (1080, 120, 1),
    "sft_scaling_law": (504, 42, 42),
    "domain_mixture_scaling_law": (80, 24, 4),
    "moe_scaling_law": (193, 28, 1),
    "data_constrained_scaling_law": (161, 21, 1),
    "lr_bsz_scaling_law": (2702, 117, 1),
    "easy_question_scaling_law": (389, 127, 9),
}


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No user data folder, an empty cache, and no way to reach the network."""
    monkeypatch.delenv("DISCOVER_DATA", raising=False)
    monkeypatch.delenv("DISCOVER_TASKS", raising=False)
    monkeypatch.setenv("DISCOVER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")


def copy_task(sldbench_dir, tmp_path, name, files=("train.csv", "test.csv")):
    folder = tmp_path / "data" / name
    folder.mkdir(parents=True)
    for f in files:
        shutil.copy(sldbench_dir / name / f, folder / f)
    return tmp_path / "data"


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_sldbench_tasks_load_with_the_readme_counts(name, sldbench_dir):
    task = find_task(name)
    ds = load_dataset(task, sldbench_dir, download=False)
    n_train, n_test, n_groups = COUNTS[name]
    assert (len(ds.train), len(ds.test), len(ds.groups)) == (n_train, n_test, n_groups)
    assert set(ds.train.X) == set(task.symbols)
    assert ds.train.Y.shape == (n_train, len(task.targets)) and ds.test.Y.shape == (n_test, len(task.targets))
    for s in (ds.train, ds.test):
        assert s.Y.dtype == np.float64 and s.group.dtype == np.int64
        assert all(v.dtype == np.float64 and v.shape == (len(s),) for v in s.X.values())
        assert np.isfinite(s.Y).all()
    assert set(np.unique(ds.train.group)) == set(range(n_groups))
    assert ds.checksums == {k: task.sha256[k] for k in ("train.parquet", "test.parquet")}
    assert ds.source == str(sldbench_dir / name)


def test_groups_in_order_of_first_appearance(sldbench_dir):
    assert load_dataset(find_task("parallel"), sldbench_dir).groups == ("stack", "pile")
    assert load_dataset(find_task("domain"), sldbench_dir).groups == ("70M", "160M", "305M", "410M")
    assert load_dataset(find_task("vocab"), sldbench_dir).groups == ("all_data",)


def test_csv_and_hf_layouts_read_the_same_rows(sldbench_dir, tmp_path):
    name = "parallel_scaling_law"
    task = find_task(name)
    ref = load_dataset(task, sldbench_dir)
    csv_dir = copy_task(sldbench_dir, tmp_path / "csv", name)
    hf_dir = tmp_path / "hf"
    (hf_dir / name).mkdir(parents=True)
    for split in ("train", "test"):
        shutil.copy(sldbench_dir / name / f"{split}.parquet", hf_dir / name / f"{split}-00000-of-00001.parquet")
    for ds, keys in ((load_dataset(task, csv_dir), ("train.csv", "test.csv")),
                     (load_dataset(task, hf_dir), ("train.parquet", "test.parquet"))):
        assert sorted(ds.checksums) == sorted(keys) and ds.groups == ref.groups
        for a, b in ((ds.train, ref.train), (ds.test, ref.test)):
            assert np.array_equal(a.Y, b.Y) and np.array_equal(a.group, b.group)
            assert all(np.array_equal(a.X[k], b.X[k]) for k in b.X)


def test_lookup_order(sldbench_dir, tmp_path, monkeypatch):
    task = find_task("sft")
    with pytest.raises(UserError):
        load_dataset(task, download=False)
    monkeypatch.setenv("DISCOVER_DATA", str(sldbench_dir))
    assert load_dataset(task).source == str(sldbench_dir / task.name)
    assert data_root() == sldbench_dir
    other = copy_task(sldbench_dir, tmp_path, task.name)
    assert load_dataset(task, other).source == str(other / task.name)  # the argument comes first
    assert data_root(other) == other
    monkeypatch.delenv("DISCOVER_DATA")
    assert data_root() == cache_dir() == tmp_path / "cache"
    cached = copy_task(sldbench_dir, tmp_path / "c", task.name)
    monkeypatch.setenv("DISCOVER_CACHE", str(cached))
    assert load_dataset(task, tmp_path / "empty").source == str(cached / task.name)  # falls back to the cache


def test_cache_dir_honours_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("DISCOVER_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "discover" / "sldbench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "discover" / "sldbench"


def test_checksum_mismatch_names_the_file_and_both_hashes(sldbench_dir, tmp_path):
    task = find_task("vocab")
    root = copy_task(sldbench_dir, tmp_path, task.name)
    path = root / task.name / "train.csv"
    text = path.read_text()
    path.write_text(text.replace("-1.3494449853897097", "-1.3494449853897098", 1))
    with pytest.raises(UserError) as e:
        load_dataset(task, root)
    msg = str(e.value)
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    assert str(path) in msg and got in msg and task.sha256["train.csv"] in msg and "\n" not in msg


def test_no_data_without_download_is_one_line(tmp_path):
    with pytest.raises(UserError) as e:
        load_dataset(find_task("moe"), tmp_path / "nothing", download=False)
    msg = str(e.value)
    assert msg.startswith("no data for moe_scaling_law: pass --data-dir DIR or set DISCOVER_DATA")
    assert "moe_scaling_law/train.parquet" in msg and "pkuHaowei/sldbench" in msg and "\n" not in msg


def test_extra_columns_are_ignored(sldbench_dir):
    ds = load_dataset(find_task("easy_question"), sldbench_dir)
    assert list(ds.train.X) == ["log_flops"]


def test_split_take_and_immutability():
    s = Split(X={"N": [1, 2, 3]}, Y=[4, 5, 6], group=[0, 1, 0])
    assert len(s) == 3 and s.Y.shape == (3, 1)
    sub = s.take(np.array([True, False, True]))
    assert sub.X["N"].tolist() == [1, 3] and sub.Y[:, 0].tolist() == [4, 6] and sub.group.tolist() == [0, 0]
    assert s.take([2, 0]).X["N"].tolist() == [3, 1]
    with pytest.raises(ValueError):
        s.Y[0, 0] = 1
    with pytest.raises(ValueError):
        s.take(np.array([True, False]))
    with pytest.raises(ValueError):
        Split(X={"N": [1, 2]}, Y=[1, 2, 3], group=[0, 0, 0])


# --- a user's own table ---------------------------------------------------------------------------


def table(tmp_path, text: str, name: str = "runs.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


GOOD = "N,D,model,loss\n" + "".join(f"{n},{d},{m},{2 + 1 / n + 1 / d}\n" for m in "ab" for n in (1, 2, 4)
                                    for d in (10, 20))


def test_user_table_split_by_rule(tmp_path):
    task = csv_task(table(tmp_path, GOOD), ["N", "D"], ["loss"], "model", "top value of N per group")
    ds = load_dataset(task)
    assert ds.groups == ("a", "b") and (len(ds.train), len(ds.test)) == (8, 4)
    assert set(ds.test.X["N"]) == {4.0} and set(ds.train.X["N"]) == {1.0, 2.0}
    assert list(ds.checksums) == ["runs.csv"] and ds.source == task.csv
    ds = load_dataset(csv_task(task.csv, ["N", "D"], ["loss"], None, "largest 10% of N*D"))
    assert ds.groups == ("all",) and set(ds.test.X["N"] * ds.test.X["D"]) == {80.0}


def test_several_group_columns_make_a_group_of_each_combination(tmp_path):
    """`--group model,data`: each (model, data) pair gets its own parameters; its name joins the values."""
    rows = ["N,model,data,loss"] + [f"{n},{m},{d},{1 + n}" for m in ("a", "b") for d in ("x", "y") for n in (1, 2, 4)]
    task = csv_task(table(tmp_path, "\n".join(rows) + "\n"), ["N"], ["loss"], ["model", "data"],
                    "top value of N per group")
    ds = load_dataset(task)
    assert ds.groups == ("a / x", "a / y", "b / x", "b / y")
    assert (len(ds.train), len(ds.test)) == (8, 4)  # one test row (N = 4) per combination
    assert np.bincount(ds.test.group).tolist() == [1, 1, 1, 1]
    for text, message in [(rows[1].replace(",a,x,", ",a,,"), "column 'data' is empty at row 1"),
                          (rows[1].replace(",a,x,", ",a / b,c,") + "\n" + rows[1].replace(",a,x,", ",a,b / c,"),
                           "would both be named 'a / b / c'")]:
        task = csv_task(table(tmp_path, "\n".join([rows[0], text, *rows[2:]]) + "\n"), ["N"], ["loss"],
                        ["model", "data"], "top value of N per group")
        with pytest.raises(UserError, match=message):
            load_dataset(task)


@pytest.mark.parametrize("text, inputs, message", [
    (GOOD, ["N", "E"], "unknown column 'E'; available: N, D, model, loss"),
    (GOOD.replace("2,20,b,", "2,abc,b,"), ["N", "D"], "column 'D' has a non-numeric value 'abc' at row 10"),
    (GOOD.replace("4,10,a,", "4,,a,"), ["N", "D"], "column 'D' has an empty value (NaN) at row 5"),
    (GOOD.replace("4,10,a,", "4,nan,a,"), ["N", "D"], "column 'D' has an empty value (NaN) at row 5"),
    (GOOD.replace("4,10,a,", "4,inf,a,"), ["N", "D"], "column 'D' has an infinite value (inf) at row 5"),
    (GOOD.replace("1,10,b,", "1,10,,"), ["N", "D"], "column 'model' is empty at row 7"),
    ("\n".join(GOOD.splitlines()[:4]) + "\n", ["N", "D"], "only 3 row(s); need at least 5"),
    ("", ["N", "D"], "the file is empty"),
    (GOOD.replace("N,D,model,loss", "N,D,model,loss\n\"unclosed"), ["N", "D"], "not a readable CSV file"),
    (GOOD.replace("N,D,model,loss", "N,N,model,loss"), ["N"], "column 'N' is named more than once"),
    (GOOD.replace("N,D,model,loss", "N,model,model,loss"), ["N"], "column 'model' is named more than once"),
])
def test_user_table_errors(tmp_path, text, inputs, message):
    task = csv_task(table(tmp_path, text), inputs, ["loss"], "model", "top value of N per group")
    with pytest.raises(UserError) as e:
        load_dataset(task)
    msg = str(e.value)
    assert msg.startswith(f"{task.csv}: ") and message in msg and "\n" not in msg


def test_a_repeated_name_of_a_column_the_task_does_not_use_is_no_error(tmp_path):
    text = "".join(line + (",x,x\n" if i == 0 else ",0,1\n") for i, line in enumerate(GOOD.splitlines()))
    task = csv_task(table(tmp_path, text), ["N", "D"], ["loss"], "model", "top value of N per group")
    assert load_dataset(task).groups == ("a", "b")


@pytest.mark.parametrize("name, sep", [("runs.tsv", "\t"), ("runs.txt", "\t"), ("runs.csv", ";"), ("runs.csv", "|")])
def test_user_tables_separated_otherwise_than_by_commas_are_read(tmp_path, name, sep):
    task = csv_task(table(tmp_path, GOOD.replace(",", sep), name), ["N", "D"], ["loss"], "model",
                    "top value of N per group")
    ds = load_dataset(task)
    assert ds.groups == ("a", "b") and (len(ds.train), len(ds.test)) == (8, 4)
    assert ds.train.Y[:, 0] == pytest.approx([2 + 1 / n + 1 / d for n in (1, 2) for d in (10, 20)] * 2)


def test_drop_incomplete_leaves_out_bad_rows_and_names_them(tmp_path):
    """Rows with an empty, non-numeric or infinite input or target, or an empty group, are left out
    and named (1 = the first data row); the rest load as they would without those rows."""
    lines = GOOD.splitlines()
    holes = [lines[0], lines[1].replace("1,10,a,", "1,,a,"), lines[2].replace("1,20,a,", "1,20,,"), *lines[3:7],
             lines[7].replace("1,10,b,", "oops,10,b,"), *lines[8:], "4,20,b,inf"]
    task = csv_task(table(tmp_path, "\n".join(holes) + "\n"), ["N", "D"], ["loss"], "model",
                    "top value of N per group", drop_incomplete=True)
    ds = load_dataset(task)
    assert ds.dropped == {task.csv: (1, 2, 7, 13)}
    assert dropped_rows(ds).startswith("left out 4 row(s)") and "runs.csv row(s) 1, 2, 7, 13" in dropped_rows(ds)
    whole = load_dataset(csv_task(table(tmp_path, GOOD, "whole.csv"), ["N", "D"], ["loss"], "model",
                                  "top value of N per group"))
    assert (len(ds.train), len(ds.test)) == (len(whole.train) - 3, len(whole.test))  # (1,10),(1,20) of a; (1,10) of b
    assert dropped_rows(whole) == "" and whole.dropped == {}
    with pytest.raises(UserError, match="'model' is empty at row 2 \\(--drop-incomplete leaves such rows out\\)"):
        load_dataset(csv_task(task.csv, ["N", "D"], ["loss"], "model", "top value of N per group"))


def test_user_table_target_checked_too(tmp_path):
    task = csv_task(table(tmp_path, GOOD.replace("model,loss", "model,loss\n1,1,a,oops", 1)), ["N"], ["loss"], None,
                    "top value of N")
    with pytest.raises(UserError, match="column 'loss' has a non-numeric value 'oops' at row 1"):
        load_dataset(task)


def test_user_table_whose_rule_empties_a_group(tmp_path):
    task = csv_task(table(tmp_path, GOOD + "4,10,c,2.3\n"), ["N", "D"], ["loss"], "model", "top value of N")
    with pytest.raises(UserError, match="holds out every row of group"):
        load_dataset(task)


def test_file_disappeared(tmp_path):
    task = csv_task(table(tmp_path, GOOD), ["N"], ["loss"], None, "top value of N")
    (tmp_path / "runs.csv").unlink()
    with pytest.raises(UserError, match="no such file"):
        load_dataset(task)


def test_raw_steplaw_table(raw_csv):
    """708 MoE runs as a user brings them: a target with a space in its name, inputs with '/' in theirs."""
    columns = pd.read_csv(raw_csv, nrows=1).columns
    assert "smooth loss" in columns and "Na/N" in columns
    task = csv_task(str(raw_csv), ["Na", "D", "lr", "bs", "Na/N"], ["smooth loss"], "moe_name",
                    "largest 15% of Na*D")
    ds = load_dataset(task)
    assert len(ds.train) + len(ds.test) == 708 and len(ds.groups) == 4
    assert 0.1 < len(ds.test) / 708 < 0.25
    assert ds.test.X["Na"].min() * ds.test.X["D"].min() >= 0  # raw units
    assert (ds.test.X["Na"] * ds.test.X["D"]).min() >= (ds.train.X["Na"] * ds.train.X["D"]).max()
    assert set(ds.train.X) == {"Na", "D", "lr", "bs", "Na_N"}
    per_group = load_dataset(csv_task(str(raw_csv), ["Na", "D"], ["loss"], "moe_name", "largest 15% of `D` per group"))
    assert all((per_group.test.group == g).any() for g in range(4))


def test_development_split_holds_out_trains_validation_slice_and_drops_test(sldbench_dir):
    from discover.data import development_split

    ds = load_dataset(find_task("vocab"), sldbench_dir)
    dev = development_split(ds)
    assert len(dev.train) + len(dev.test) == len(ds.train)
    largest = ds.train.X["vocab_size"].max()  # the validation rule: top value of vocab_size
    assert np.all(dev.test.X["vocab_size"] == largest) and not np.any(dev.train.X["vocab_size"] == largest)
    kept = np.concatenate([dev.train.X["vocab_size"], dev.test.X["vocab_size"]])
    assert not np.isin(ds.test.X["vocab_size"], kept).any()  # no row of the real test split
    assert dev.groups == ds.groups and dev.checksums == ds.checksums
    assert (ds.split, dev.split) == ("test", "development")  # what a run started on it records
