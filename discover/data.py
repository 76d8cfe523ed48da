"""Loading a task's rows: find the files (or download them), check checksums and values, split.

An SLDBench task's files are looked up, in order, in the ``data_dir`` argument, ``$DISCOVER_DATA``
and the user cache (``$DISCOVER_CACHE``, else ``$XDG_CACHE_HOME/discover/sldbench``, else
``~/.cache/discover/sldbench``); failing those they are downloaded from the Hugging Face dataset
into the cache. In a folder, a task's files are ``<folder>/<config>/train.parquet`` (or the HF
name ``train-00000-of-00001.parquet``, or ``train.csv``), the same for ``test``. Every file read
is checked against the sha256 pinned in the spec. A user's table (``task.csv``) is read and split
into train and test by the task's test holdout rule.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from discover.errors import DataNotFound, UserError
from discover.holdout import holdout_mask
from discover.tasks import PROVIDED, TaskSpec

HF_ENDPOINT = "https://huggingface.co"
TIMEOUT = 30.0
MIN_ROWS = 5
SPLITS = ("train", "test")
GROUP_JOIN = " / "  # between the values of several group columns in a group's name


@dataclass(frozen=True, eq=False)
class Split:
    """Rows of one split: inputs by symbol (raw units), targets (n, n_targets), group index."""

    X: Mapping[str, np.ndarray]
    Y: np.ndarray
    group: np.ndarray

    def __post_init__(self) -> None:
        group = np.array(self.group, dtype=np.int64).reshape(-1)
        n = len(group)
        X = {k: np.array(v, dtype=np.float64).reshape(-1) for k, v in self.X.items()}
        Y = np.array(self.Y, dtype=np.float64)
        if Y.ndim == 1:
            Y = Y.reshape(-1, 1)
        if Y.ndim != 2 or Y.shape[0] != n or any(len(v) != n for v in X.values()):
            raise ValueError(f"split arrays disagree in length: group {n}, Y {Y.shape}, "
                             f"X {[len(v) for v in X.values()]}")
        for a in (group, Y, *X.values()):
            a.setflags(write=False)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "Y", Y)
        object.__setattr__(self, "group", group)

    def __len__(self) -> int:
        return len(self.group)

    def take(self, mask_or_index) -> Split:
        """The rows selected by a boolean mask or an index array."""
        idx = np.asarray(mask_or_index)
        if idx.dtype == bool and idx.shape != self.group.shape:
            raise ValueError(f"mask of length {len(idx)} for a split of {len(self)} rows")
        return Split(X={k: v[idx] for k, v in self.X.items()}, Y=self.Y[idx], group=self.group[idx])


TEST = "test"  # the split names runs and benches record: the real test split,
DEVELOPMENT = "development"  # or development_split's


@dataclass(frozen=True, eq=False)
class Dataset:
    """A task's train and test rows, with the group names and what was read."""

    task: TaskSpec
    groups: tuple[str, ...]
    train: Split
    test: Split
    checksums: Mapping[str, str]
    source: str
    split: str = TEST  # what ``test`` holds: TEST, SLDBench's (or the user's) test rows, or DEVELOPMENT
    dropped: Mapping[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)  # file -> rows left out


def flat_targets(split: Split, targets: Sequence[str]) -> list[str]:
    """The targets that take a single value over ``split`` (all of them below two rows): R² and
    NMSE there divide by the spread, so no law can be scored on them."""
    return [name for t, name in enumerate(targets) if len(split) < 2 or np.ptp(split.Y[:, t]) == 0]


def unscorable_test(ds: Dataset) -> str:
    """Why R² cannot be computed on ``ds``'s test split ('' when it can): a target that takes a
    single value there (one row, say) has no spread to divide by, so its R² shows as -1."""
    flat = flat_targets(ds.test, ds.task.targets)
    if not flat:
        return ""
    return (f"the test split has {len(ds.test)} row(s) and {', '.join(map(repr, flat))} takes a single value there: "
            "test R² is undefined (shown as -1); hold out more rows to score the law, or compare its prediction "
            "with the held-out value(s) (`discover predict`)")


def negative_inputs(ds: Dataset) -> list[str]:
    """A note per input with negative values in train: fractional powers and logs of such an
    input are undefined there, so laws built on them fail and the search must reach it otherwise
    (a sign error in a column of sizes shows up here)."""
    notes = []
    for name, sym in zip(ds.task.inputs, ds.task.symbols, strict=True):
        x = ds.train.X[sym]
        neg = np.flatnonzero(x < 0)
        if len(neg):
            notes.append(f"input {name!r} has {len(neg)} negative value(s) in {len(x)} training rows (the first: "
                         f"{x[neg[0]]:g}): fractional powers and logs of {name} are undefined there, and laws "
                         "built on them fail on those rows")
    return notes


def constant_inputs(ds: Dataset) -> list[str]:
    """A note per input that takes a single value in train within every group: each group's own
    parameters absorb it, so the law cannot learn how the target moves with it, and a law that
    uses it only trades parameters for nothing (with one group: the input is a constant)."""
    notes = []
    for name, sym in zip(ds.task.inputs, ds.task.symbols, strict=True):
        x, g = ds.train.X[sym], ds.train.group
        if not len(x) or any(np.ptp(x[g == k]) > 0 for k in np.unique(g)):
            continue
        if len(ds.groups) == 1:
            notes.append(f"input {name!r} takes a single value in train ({x[0]:g}): the law cannot learn how the "
                         "target moves with it; drop it, or add runs where it varies")
        else:
            notes.append(f"input {name!r} takes a single value within each group in train: each group's own "
                         f"parameters absorb it, so the law cannot learn how the target moves with {name} "
                         "(drop it, or drop the grouping so that runs of different groups are fitted together)")
    return notes


def run_notes(ds: Dataset) -> list[str]:
    """What a user should know before a search on ``ds``: rows left out, negative or constant
    inputs, a test split R² cannot score (the non-empty ones)."""
    return [t for t in [dropped_rows(ds), *negative_inputs(ds), *constant_inputs(ds), unscorable_test(ds)] if t]


def development_split(ds: Dataset) -> Dataset:
    """The dataset for judging changes to discovery itself without reading its test rows:
    train's validation slice (the task's validation rule, seed 0) stands in for the test
    split, the rest of train is the train split, and the real test rows are left out."""
    mask = holdout_mask(ds.task.validation, ds.train, ds.task.symbols, seed=0)
    return dataclasses.replace(ds, train=ds.train.take(~mask), test=ds.train.take(mask), split=DEVELOPMENT)


def as_recorded(ds: Dataset, split: str | None) -> Dataset:
    """``ds`` on the split a run recorded (its config's ``split``): the development split or the real one."""
    return development_split(ds) if split == DEVELOPMENT else ds


# --- where the data is ------------------------------------------------------------------------


def cache_dir() -> Path:
    """The download cache: ``$DISCOVER_CACHE``, else ``$XDG_CACHE_HOME/discover/sldbench``, else ``~/.cache/...``."""
    if os.environ.get("DISCOVER_CACHE"):
        return Path(os.environ["DISCOVER_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "discover" / "sldbench"


def data_root(data_dir: str | Path | None = None) -> Path:
    """The first place data is looked for: ``data_dir``, else ``$DISCOVER_DATA``, else the cache."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get("DISCOVER_DATA"):
        return Path(os.environ["DISCOVER_DATA"]).expanduser()
    return cache_dir()


def looked_in(data_dir: str | Path | None) -> list[Path]:
    """Where a task's data is looked for, in order: ``data_dir`` (else ``$DISCOVER_DATA``), then the cache."""
    given = data_dir or os.environ.get("DISCOVER_DATA")
    return [Path(given).expanduser(), cache_dir()] if given else [cache_dir()]


def _find(folder: Path, split: str) -> Path | None:
    for name in (f"{split}.parquet", f"{split}-00000-of-00001.parquet", f"{split}.csv"):
        if (folder / name).is_file():
            return folder / name
    return None


def _sha_key(path: Path) -> str:
    """The spec's sha256 key of a data file: the HF name maps to ``<split>.parquet`` (same bytes)."""
    split = path.name.split("-", 1)[0].split(".", 1)[0]
    return f"{split}{'.csv' if path.suffix == '.csv' else '.parquet'}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- loading ---------------------------------------------------------------------------------------


def load_dataset(task: TaskSpec, data_dir: str | Path | None = None, *, download: bool = True) -> Dataset:
    """Load, check and split a task's rows (see the module docstring for where they come from)."""
    if task.csv:
        return _load_table(task)
    splits = SPLITS if task.test == PROVIDED else ("train",)
    for root in looked_in(data_dir):
        found = {s: _find(root / task.folder, s) for s in splits}
        if all(found.values()):
            return _from_files(task, found, str(root / task.folder))
    if not (download and task.hf_repo):
        where = ", ".join(str(r) for r in looked_in(data_dir))
        raise DataNotFound(_no_data(task, f"not found in {where}" + ("" if task.hf_repo else "; no download source")))
    paths = {s: _download(task, s) for s in splits}
    return _from_files(task, paths, f"{_endpoint()}/datasets/{task.hf_repo}")


def _from_files(task: TaskSpec, paths: Mapping[str, Path], source: str) -> Dataset:
    frames, checksums = {}, {}
    for split, path in paths.items():
        data = _read_bytes(path)
        key = _sha_key(path)
        checksums[key] = _check_sha(task, key, data, str(path))
        frames[split] = _frame(data, path)
    if task.test != PROVIDED:
        return _split_by_rule(task, frames["train"], str(paths["train"]), checksums, source)
    return _dataset(task, frames["train"], frames["test"], str(paths["train"]), str(paths["test"]), checksums, source)


def _load_table(task: TaskSpec) -> Dataset:
    path = Path(task.csv or "")
    data = _read_bytes(path)
    key = path.name
    sha = task.sha256.get(key) or task.sha256.get("train.csv")
    got = sha256_hex(data)
    if sha and got != sha:
        raise UserError(f"{path}: sha256 {got} does not match the pinned {sha}")
    frame = _frame(data, path)
    return _split_by_rule(task, frame, str(path), {key: got}, str(path.resolve()))


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _check_sha(task: TaskSpec, key: str, data: bytes, where: str) -> str:
    got = sha256_hex(data)
    want = task.sha256.get(key)
    if want and got != want:
        raise UserError(f"{where}: sha256 {got} does not match the {want} pinned for {key} in task {task.name}")
    return got


def _frame(data: bytes, path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(io.BytesIO(data))
        return read_delimited(io.BytesIO(data), path)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: the file is empty") from None
    except Exception as exc:  # pandas and pyarrow raise many kinds; any of them means an unreadable file
        kind = "parquet" if path.suffix == ".parquet" else "CSV"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a readable {kind} file ({reason})") from None


def read_delimited(source, path: str | Path) -> pd.DataFrame:
    """A CSV, or a table separated by tabs (``.tsv``, or a header with tabs), semicolons or '|'.

    pandas renames a column whose name is already taken (the second ``N`` becomes ``N.1``);
    the header as written is kept in ``frame.attrs["header"]`` so that ``check_repeated``
    can refuse a table that names a column it uses twice."""
    sep = "\t" if Path(path).suffix.lower() in (".tsv", ".tab") else ","
    frame = pd.read_csv(source, sep=sep)
    if sep == "," and len(frame.columns) == 1:
        sep = next((c for c in "\t;|" if c in str(frame.columns[0])), ",")
        if sep != ",":
            if hasattr(source, "seek"):
                source.seek(0)
            frame = pd.read_csv(source, sep=sep)
    if any("." in str(c) for c in frame.columns):  # pandas renames a repeated N to N.1 (a name may have a dot too)
        if hasattr(source, "seek"):
            source.seek(0)
        header = pd.read_csv(source, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False)
        frame.attrs["header"] = [str(c) for c in header.iloc[0]]
    return frame


def check_repeated(frame: pd.DataFrame, used: Sequence[str], where: str) -> None:
    """UserError when ``frame``'s header (as written, for a file) names a column in ``used`` more
    than once: which one would be meant is a guess."""
    names = frame.attrs.get("header") or [str(c) for c in frame.columns]
    twice = [c for c in dict.fromkeys(used) if names.count(c) > 1]
    if twice:
        raise UserError(f"{where}: column {twice[0]!r} is named more than once; rename the others "
                        "(which one is meant would be a guess)")


def _split_by_rule(task: TaskSpec, frame: pd.DataFrame, where: str, checksums: dict, source: str) -> Dataset:
    """One table split into train and test by the task's test rule (seed 0: the same split every time)."""
    frame, dropped = _complete(frame, task, where)
    groups = _group_names([frame], task, [where])
    whole = _split(frame, task, groups, where)
    try:
        mask = holdout_mask(task.test, whole, task.symbols, seed=0)
    except UserError as exc:
        raise UserError(f"{where}: test {exc}") from None
    return Dataset(task=task, groups=groups, train=whole.take(~mask), test=whole.take(mask), checksums=checksums,
                   source=source, dropped=dropped)


def _dataset(task: TaskSpec, train: pd.DataFrame, test: pd.DataFrame, train_where: str, test_where: str,
             checksums: dict, source: str) -> Dataset:
    train, dropped_train = _complete(train, task, train_where)
    test, dropped_test = _complete(test, task, test_where)
    groups = _group_names([train, test], task, [train_where, test_where])
    tr = _split(train, task, groups, train_where)
    te = _split(test, task, groups, test_where, min_rows=1)
    unseen = sorted(set(te.group.tolist()) - set(tr.group.tolist()))
    if unseen:
        raise UserError(f"{test_where}: test group(s) {', '.join(groups[g] for g in unseen)} have no training rows")
    return Dataset(task=task, groups=groups, train=tr, test=te, checksums=checksums, source=source,
                   dropped={**dropped_train, **dropped_test})


# --- checks and conversion ----------------------------------------------------------------------------


def _complete(frame: pd.DataFrame, task: TaskSpec, where: str) -> tuple[pd.DataFrame, dict[str, tuple[int, ...]]]:
    """With ``task.drop_incomplete``: the rows whose inputs and targets are finite numbers and
    whose group columns are not empty, and the row numbers of the others (1 = the first data
    row); else ``frame`` as it is (the checks that follow name the first bad row)."""
    if not task.drop_incomplete:
        return frame, {}
    _columns(frame, task, where)
    bad = np.zeros(len(frame), dtype=bool)
    for col in (*task.inputs, *task.targets):
        s = frame[col]
        values = s if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) else \
            pd.to_numeric(s, errors="coerce")
        bad |= ~np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan))
    for col in task.group:
        bad |= frame[col].isna().to_numpy()
    rows = tuple(int(i) + 1 for i in np.flatnonzero(bad))
    return frame.loc[~bad].reset_index(drop=True), ({where: rows} if rows else {})


def dropped_rows(ds: Dataset, shown: int = 8) -> str:
    """A note on the rows left out for an empty, non-numeric or infinite value ('' if none)."""
    if not ds.dropped:
        return ""
    total = sum(len(r) for r in ds.dropped.values())
    parts = [f"{Path(w).name} row(s) {', '.join(map(str, r[:shown]))}{' ...' if len(r) > shown else ''}"
             for w, r in ds.dropped.items()]
    return (f"left out {total} row(s) with an empty, non-numeric or infinite input or target, or an empty group "
            f"(--drop-incomplete): {'; '.join(parts)} (1 = the first data row)")


def _columns(frame: pd.DataFrame, task: TaskSpec, where: str) -> None:
    have = [str(c) for c in frame.attrs.get("header") or frame.columns]
    used = (*task.inputs, *task.targets, *task.group)
    for col in used:
        if col not in have:
            raise UserError(f"{where}: unknown column {col!r}; available: {', '.join(dict.fromkeys(have))}")
    check_repeated(frame, used, where)


def _group_names(frames: list[pd.DataFrame], task: TaskSpec, wheres: list[str]) -> tuple[str, ...]:
    """Group names in order of first appearance (train first); one group "all" without a group column."""
    if not task.group:
        return ("all",)
    names: dict[str, tuple[str, ...]] = {}
    for frame, where in zip(frames, wheres, strict=True):
        _columns(frame, task, where)
        for col in task.group:
            missing = np.flatnonzero(frame[col].isna().to_numpy())
            if len(missing):
                raise UserError(f"{where}: column {col!r} is empty at row {missing[0] + 1} "
                                "(--drop-incomplete leaves such rows out)")
        for values in dict.fromkeys(zip(*(frame[c].astype(str) for c in task.group), strict=True)):
            name = GROUP_JOIN.join(values)
            if names.setdefault(name, values) != values:
                raise UserError(f"{where}: the groups {names[name]} and {values} of columns {', '.join(task.group)} "
                                f"would both be named {name!r}; rename values that contain {GROUP_JOIN!r}")
    return tuple(names)


def group_keys(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """Each row's group name: its value of the group column, or the values of several joined by ' / '."""
    parts = [frame[c].astype(str) for c in columns]
    return parts[0] if len(parts) == 1 else parts[0].str.cat(parts[1:], sep=GROUP_JOIN)


def _numeric(frame: pd.DataFrame, col: str, where: str) -> np.ndarray:
    """A column as float64, or UserError naming the first bad row (1 = the first data row)."""
    s = frame[col]
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        as_num = pd.to_numeric(s, errors="coerce")
        bad = np.flatnonzero(as_num.isna().to_numpy() & s.notna().to_numpy())
        if pd.api.types.is_bool_dtype(s) or len(bad):
            i = bad[0] if len(bad) else 0
            raise UserError(f"{where}: column {col!r} has a non-numeric value {str(s.iloc[i])!r} at row {i + 1} "
                            "(--drop-incomplete leaves such rows out)")
        s = as_num
    values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        i = bad[0]
        what = "an empty value (NaN)" if np.isnan(values[i]) else f"an infinite value ({values[i]})"
        raise UserError(f"{where}: column {col!r} has {what} at row {i + 1} (--drop-incomplete leaves such rows out)")
    return values


def _split(frame: pd.DataFrame, task: TaskSpec, groups: tuple[str, ...], where: str, min_rows: int = MIN_ROWS) -> Split:
    _columns(frame, task, where)
    if len(frame) < min_rows:
        raise UserError(f"{where}: only {len(frame)} row(s); need at least {min_rows}")
    X = {sym: _numeric(frame, col, where) for sym, col in zip(task.symbols, task.inputs, strict=True)}
    Y = np.column_stack([_numeric(frame, col, where) for col in task.targets])
    if task.group:
        index = {g: i for i, g in enumerate(groups)}
        group = np.array([index[g] for g in group_keys(frame, task.group)], dtype=np.int64)
    else:
        group = np.zeros(len(frame), dtype=np.int64)
    return Split(X=X, Y=Y, group=group)


# --- download ---------------------------------------------------------------------------------------


def _endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or HF_ENDPOINT).rstrip("/")


def _no_data(task: TaskSpec, reason: str) -> str:
    repo = f", or allow download from {_endpoint()}/datasets/{task.hf_repo}" if task.hf_repo else ""
    return (f"no data for {task.name}: pass --data-dir DIR or set DISCOVER_DATA to a folder with "
            f"{task.folder}/train.parquet{repo} ({reason})")


def _download(task: TaskSpec, split: str) -> Path:
    """Fetch ``<split>-00000-of-00001.parquet`` into the cache; kept only if its sha256 matches."""
    url = f"{_endpoint()}/datasets/{task.hf_repo}/resolve/main/{task.hf_config}/{split}-00000-of-00001.parquet"
    dest = cache_dir() / task.folder / f"{split}.parquet"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write the data cache {dest.parent} ({exc.strerror or exc}); "
                        "set DISCOVER_CACHE to a writable folder") from None
    print(f"downloading {url}", file=sys.stderr)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{split}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        got, want = digest.hexdigest(), task.sha256.get(f"{split}.parquet")
        if want and got != want:
            raise UserError(f"{url}: sha256 {got} does not match the {want} pinned for {split}.parquet in task "
                            f"{task.name}; nothing was saved")
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        if isinstance(exc, urllib.error.HTTPError):
            reason = f"HTTP {exc.code} {exc.reason}"
        else:
            reason = str(getattr(exc, "reason", None) or exc)
        raise UserError(_no_data(task, f"download failed: {reason}: {url}")) from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest
