"""Task specs: the eight SLDBench specs, the registry and short names, spec files, symbols, user tables."""

import dataclasses

import pytest

from discover.errors import UserError
from discover.tasks import (
    SHA_KEYS,
    TaskSpec,
    all_tasks,
    benchmarks_dir,
    csv_task,
    find_task,
    load_spec,
    symbols_for,
)

# The README's table of the eight tasks: inputs (in order), targets.
SLDBENCH = {
    "parallel_scaling_law": (("num_params", "parallel_size"), ("loss",)),
    "vocab_scaling_law": (("non_vocab_parameters", "vocab_size", "num_characters"), ("unigram_normalized_loss",)),
    "sft_scaling_law": (("sft_data_size",), ("sft_loss",)),
    "domain_mixture_scaling_law": (tuple(f"proportion_domain_{i}" for i in range(1, 6)),
                                   tuple(f"loss_domain_{i}" for i in range(1, 6))),
    "moe_scaling_law": (("num_experts", "dense_parameter_count"), ("loss_validation",)),
    "data_constrained_scaling_law": (("unique_tokens", "params", "tokens"), ("loss",)),
    "lr_bsz_scaling_law": (("lr", "bsz", "data_size", "non_embedding_param_size"), ("lm_loss",)),
    "easy_question_scaling_law": (("log_flops",), ("brier_score",)),
}

SPEC = """name = "mini_scaling_law"
inputs = ["N", "D"]
targets = ["loss"]
validation = "top value of N"
test = "largest 20% of N*D"
csv = "runs.csv"
"""


@pytest.fixture(autouse=True)
def no_extra_tasks(monkeypatch):
    monkeypatch.delenv("DISCOVER_TASKS", raising=False)


def test_the_eight_sldbench_specs():
    tasks = all_tasks()
    assert [t.name for t in tasks] == sorted(SLDBENCH)  # human laws and the reference table are not specs
    for t in tasks:
        assert (t.inputs, t.targets) == SLDBENCH[t.name]
        assert t.group == ("group",) and t.test == "provided"
        assert t.hf_repo == "pkuHaowei/sldbench" and t.hf_config == t.name
        assert set(t.sha256) == set(SHA_KEYS)
        assert t.max_params == (16 if t.name == "lr_bsz_scaling_law" else 12)
        assert t.description and "arXiv" in t.citation
        assert t.spec_path and t.spec_path.startswith(str(benchmarks_dir()))
        assert t.symbols == t.inputs  # SLDBench column names are already identifier-safe


def test_benchmarks_dir_is_the_repo_copy():
    assert (benchmarks_dir() / "sldbench" / "vocab_scaling_law.toml").is_file()


@pytest.mark.parametrize("query, name", [
    ("vocab", "vocab_scaling_law"),
    ("vocab_scaling", "vocab_scaling_law"),
    ("vocab_scaling_law", "vocab_scaling_law"),
    ("Vocab", "vocab_scaling_law"),
    ("lr", "lr_bsz_scaling_law"),
    ("lr-bsz", "lr_bsz_scaling_law"),
    ("easy", "easy_question_scaling_law"),
    ("data_constrained", "data_constrained_scaling_law"),
    ("domain", "domain_mixture_scaling_law"),
])
def test_short_names(query, name):
    assert find_task(query).name == name


def test_unknown_task_lists_the_known_names():
    with pytest.raises(UserError) as e:
        find_task("no_such_task")
    msg = str(e.value)
    assert "unknown task 'no_such_task'" in msg and "vocab_scaling_law" in msg and "\n" not in msg


def test_ambiguous_prefix_and_extra_tasks_dir(tmp_path, monkeypatch):
    for name in ("foo_a_scaling_law", "foo_b_scaling_law", "vocab_scaling_law"):
        text = SPEC.replace("mini_scaling_law", name).replace("Mini", name)
        (tmp_path / f"{name}.toml").write_text(text)
    monkeypatch.setenv("DISCOVER_TASKS", str(tmp_path))
    with pytest.raises(UserError, match="ambiguous task 'foo': matches foo_a_scaling_law, foo_b_scaling_law"):
        find_task("foo")
    assert find_task("foo_b").name == "foo_b_scaling_law"
    assert find_task("vocab").csv == str(tmp_path / "runs.csv")  # a user spec replaces the bundled one
    assert len(all_tasks()) == 10
    monkeypatch.setenv("DISCOVER_TASKS", str(tmp_path / "missing"))
    with pytest.raises(UserError, match="DISCOVER_TASKS"):
        all_tasks()


def test_spec_file_by_path(tmp_path):
    path = tmp_path / "mini.toml"
    path.write_text(SPEC)
    t = find_task(str(path))
    assert t.name == "mini_scaling_law" and t.group == () and t.max_params == 12
    assert t.csv == str(tmp_path / "runs.csv") and t.spec_path == str(path)
    assert load_spec(path) == t


@pytest.mark.parametrize("edit, message", [
    (("inputs = [\"N\", \"D\"]", "inputs = \"N\""), "inputs must be a list"),
    (("targets = [\"loss\"]\n", ""), "missing key(s) targets"),
    (("csv = ", "cvs = "), "unknown key(s) cvs"),
    (("top value of N", "top value of Q"), "bad holdout rule 'top value of Q'"),
    (("largest 20% of N*D", "biggest N"), "test: bad holdout rule"),
    (("inputs = [\"N\", \"D\"]", "inputs = [\"N\", \"loss\"]"), "more than one role"),
    (("validation", "max_params = 0\nvalidation"), "max_params"),
    (("name = \"mini_scaling_law\"", "name = \"a b\""), "task name 'a b'"),
    (("test = \"largest 20% of N*D\"", "test = \"provided\""), "no provided test split"),
    (("validation", "drop_incomplete = \"yes\"\nvalidation"), "drop_incomplete must be true or false"),
    (("inputs", "inputs = 3\ninputs"), "not a readable TOML file"),
])
def test_bad_spec_files_name_the_file(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(SPEC.replace(*edit))
    with pytest.raises(UserError) as e:
        load_spec(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value)


def test_a_spec_may_group_by_several_columns(tmp_path):
    path = tmp_path / "mini.toml"
    path.write_text(SPEC.replace("validation", 'group = ["model", "data"]\nvalidation', 1))
    t = load_spec(path)
    assert t.group == ("model", "data") and not t.drop_incomplete
    path.write_text(SPEC.replace("validation", "drop_incomplete = true\nvalidation", 1))
    assert load_spec(path).drop_incomplete
    path.write_text(SPEC.replace("validation", 'group = ["model", "data"]\nvalidation', 1))
    for group, message in [('["model", 3]', "group must be a column name or a list"),
                           ('["model", "model"]', "group lists a column twice"),
                           ('["model", "N"]', "more than one role")]:
        path.write_text(SPEC.replace("validation", f"group = {group}\nvalidation", 1))
        with pytest.raises(UserError, match=message):
            load_spec(path)


def test_bad_sha256_entries(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(SPEC + '\n[sha256]\n"train.parquet" = "abc"\n')
    with pytest.raises(UserError, match="sha256 of train.parquet is not 64"):
        load_spec(path)
    path.write_text(SPEC + '\n[sha256]\n"notes.txt" = "' + "0" * 64 + '"\n')
    with pytest.raises(UserError, match="sha256 of unknown file"):
        load_spec(path)
    with pytest.raises(UserError, match="no such task spec file"):
        find_task(str(tmp_path / "missing.toml"))


def test_spec_round_trips_through_plain_dicts():
    """What the run store does: fields to JSON-able values and back."""
    t = find_task("vocab")
    d = {f.name: getattr(t, f.name) for f in dataclasses.fields(t)}
    d = {k: (dict(v) if k == "sha256" else list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
    back = TaskSpec(**d)
    assert back == t and hash(back) == hash(t)


@pytest.mark.parametrize("columns, symbols", [
    (("N", "D"), ("N", "D")),
    (("smooth loss", "D/N", "Na/N"), ("smooth_loss", "D_N", "Na_N")),
    (("1st", "2-3"), ("x_1st", "x_2_3")),
    (("p0", "p12", "log", "exp", "min", "Max", "ln", "lambda"),
     ("x_p0", "x_p12", "x_log", "x_exp", "x_min", "x_Max", "x_ln", "x_lambda")),
    (("a b", "a_b"), ("a_b_2", "a_b")),  # the column already named a_b keeps its name
    (("a b", "a-b", "a.b"), ("a_b", "a_b_2", "a_b_3")),
    (("log", "x_log"), ("x_log_2", "x_log")),
    (("p", "pa", "p_0"), ("p", "pa", "p_0")),
    (("",), ("x",)),
])
def test_symbols(columns, symbols):
    assert symbols_for(columns) == symbols
    assert all(s.isidentifier() for s in symbols) and len(set(symbols)) == len(symbols)


def test_csv_task(raw_csv):
    t = csv_task(str(raw_csv), ["Na", "D", "Na/N"], ["smooth loss"], "moe_name", "largest 15% of `Na/N`")
    assert t.name == "all" and t.symbols == ("Na", "D", "Na_N")
    assert t.test == t.validation == "largest 15% of Na_N"  # validation defaults to the test rule
    assert t.csv == str(raw_csv.resolve()) and t.max_params == 12 and t.hf_repo is None
    t = csv_task(str(raw_csv), ["Na", "D"], ["loss"], None, "top value of D", "random 10%", max_params=6)
    assert (t.test, t.validation, t.group, t.max_params) == ("top value of D", "random 10%", (), 6)


def test_csv_task_errors(raw_csv, tmp_path):
    with pytest.raises(UserError, match="no such file"):
        csv_task(str(tmp_path / "nope.csv"), ["N"], ["loss"], None, "top value of N")
    with pytest.raises(UserError, match="`smooth` is not an input column; inputs: Na, D"):
        csv_task(str(raw_csv), ["Na", "D"], ["loss"], None, "largest 15% of `smooth`")
    with pytest.raises(UserError, match="bad holdout rule 'largest 15% of N'"):
        csv_task(str(raw_csv), ["Na", "D"], ["loss"], None, "largest 15% of N")
    with pytest.raises(UserError, match="used in more than one role"):
        csv_task(str(raw_csv), ["Na", "loss"], ["loss"], None, "top value of Na")
