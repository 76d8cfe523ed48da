"""Task specs: what to fit (inputs, targets, groups), how rows are held out, where the data lives.

A spec is a small TOML file; the registry is every spec under :func:`benchmarks_dir` plus
those in ``$DISCOVER_TASKS``. TOML files there that are not task specs (human laws with a
``formula``, the reference table with ``rows``) are recognised by having no ``inputs`` key
and are skipped. A user's own table becomes a task through :func:`csv_task`.
"""

from __future__ import annotations

import keyword
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from discover.errors import UserError
from discover.expr import CONSTANTS, FUNCTIONS, PARAM_RE
from discover.holdout import validate_rule

SUFFIX = "_scaling_law"
PROVIDED = "provided"
SHA_KEYS = ("train.parquet", "test.parquet", "train.csv", "test.csv")
_KEYS = {"name", "description", "citation", "inputs", "targets", "group", "max_params", "validation", "test",
         "hf_repo", "hf_config", "csv", "sha256", "drop_incomplete"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_BACKTICK_RE = re.compile(r"`([^`]*)`")


@dataclass(frozen=True)
class TaskSpec:
    """One task: columns, parameter cap, holdout rules and the data's origin."""

    name: str
    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    group: tuple[str, ...]  # group columns (each distinct combination of values is a group); () for none
    max_params: int
    validation: str
    test: str
    description: str = ""
    citation: str = ""
    hf_repo: str | None = None
    hf_config: str | None = None
    csv: str | None = None
    sha256: Mapping[str, str] = field(default_factory=dict, hash=False)
    spec_path: str | None = None
    drop_incomplete: bool = False  # leave out rows with an empty, non-numeric or infinite value (data.dropped_rows)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # normalise sequences and mappings given by callers (lists from JSON, ...)
        set_(self, "inputs", tuple(self.inputs))
        set_(self, "targets", tuple(self.targets))
        set_(self, "group", group_columns(self.group))
        set_(self, "sha256", dict(self.sha256 or {}))
        _check(self)

    @property
    def symbols(self) -> tuple[str, ...]:
        """Identifier-safe names of the inputs, in the same order (what laws and rules are written in)."""
        return symbols_for(self.inputs)

    @property
    def folder(self) -> str:
        """The task's sub-folder in a data directory."""
        return self.hf_config or self.name


def group_columns(group: str | Sequence[str] | None) -> tuple[str, ...]:
    """The group columns as a tuple, from a spec's or a recorded run's ``group`` (a column name,
    a list of them, or None)."""
    if group is None:
        return ()
    return (group,) if isinstance(group, str) else tuple(group)


def _check(t: TaskSpec) -> None:
    """Raise UserError when the spec is inconsistent."""
    if not isinstance(t.name, str) or not _NAME_RE.match(t.name):
        raise UserError(f"task name {t.name!r} must be letters, digits, '_', '-' or '.'")
    for what, cols in (("inputs", t.inputs), ("targets", t.targets)):
        if not cols or not all(isinstance(c, str) and c for c in cols):
            raise UserError(f"task {t.name}: {what} must be a non-empty list of column names")
        if len(set(cols)) != len(cols):
            raise UserError(f"task {t.name}: {what} list a column twice")
    if not all(isinstance(c, str) and c for c in t.group):
        raise UserError(f"task {t.name}: group must be a column name, a list of them, or absent")
    if len(set(t.group)) != len(t.group):
        raise UserError(f"task {t.name}: group lists a column twice")
    used = [*t.inputs, *t.targets, *t.group]
    both = sorted({c for c in used if used.count(c) > 1})
    if both:
        raise UserError(f"task {t.name}: column(s) {', '.join(both)} used in more than one role")
    if not isinstance(t.drop_incomplete, bool):
        raise UserError(f"task {t.name}: drop_incomplete must be true or false")
    if isinstance(t.max_params, bool) or not isinstance(t.max_params, int) or not 1 <= t.max_params <= 100:
        raise UserError(f"task {t.name}: max_params must be an integer from 1 to 100")
    for what, rule in (("test", t.test), ("validation", t.validation)):
        if not isinstance(rule, str):
            raise UserError(f"task {t.name}: {what} must be a holdout rule (text)")
        if not (what == "test" and rule == PROVIDED):
            try:
                validate_rule(rule, t.symbols)
            except UserError as exc:
                raise UserError(f"task {t.name}: {what}: {exc}") from None
    if t.csv is not None and t.hf_repo is not None:
        raise UserError(f"task {t.name}: give either csv or hf_repo, not both")
    if t.csv is not None and t.test == PROVIDED:
        raise UserError(f"task {t.name}: a csv table has no provided test split; give test = a holdout rule")
    if t.hf_repo is not None and not t.hf_config:
        raise UserError(f"task {t.name}: hf_repo needs hf_config (the dataset config, e.g. {t.name})")
    bad = sorted(k for k, v in t.sha256.items() if not (isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v)))
    if bad:
        raise UserError(f"task {t.name}: sha256 of {', '.join(bad)} is not 64 lowercase hex digits")


# --- symbols ---------------------------------------------------------------------------------

_RESERVED = frozenset(FUNCTIONS) | frozenset(CONSTANTS) | frozenset(keyword.kwlist)


def _reserved(name: str) -> bool:
    return name in _RESERVED or bool(PARAM_RE.match(name))


@lru_cache(maxsize=256)
def symbols_for(columns: tuple[str, ...]) -> tuple[str, ...]:
    """Identifier-safe, distinct names for ``columns``.

    Characters other than ASCII letters, digits and ``_`` become ``_``; a leading digit, a
    parameter name (``p0``...), a function name (``log``...) or a Python keyword gets an
    ``x_`` prefix; clashes get a numeric suffix. Columns that are already safe keep their
    name in preference to columns that only become it after rewriting.
    """
    out: list[str | None] = [None] * len(columns)
    taken: set[str] = set()

    def claim(i: int, base: str) -> None:
        name, k = base, 2
        while name in taken or _reserved(name):
            name, k = f"{base}_{k}", k + 1
        out[i] = name
        taken.add(name)

    safe = [c.isidentifier() and c.isascii() and not _reserved(c) for c in columns]
    for i, c in enumerate(columns):
        if safe[i] and c not in taken:
            claim(i, c)
    for i, c in enumerate(columns):
        if out[i] is None:
            base = re.sub(r"[^0-9A-Za-z_]", "_", c) or "x"
            if base[0].isdigit() or _reserved(base):
                base = "x_" + base
            claim(i, base)
    return tuple(n for n in out if n is not None)


def rule_in_symbols(rule: str, columns: Sequence[str]) -> str:
    """Replace back-quoted column names in a holdout rule (`` `smooth loss` ``) by their symbols."""
    symbols = dict(zip(columns, symbols_for(tuple(columns)), strict=True))

    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name not in symbols:
            raise UserError(f"holdout rule {rule!r}: `{name}` is not an input column; inputs: {', '.join(columns)}")
        return symbols[name]

    return _BACKTICK_RE.sub(sub, rule)


# --- spec files and the registry ------------------------------------------------------------------


def load_spec(path: str | Path) -> TaskSpec:
    """Read a task spec TOML file; UserError naming the file on any problem."""
    p = Path(path)
    try:
        d = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{p}: no such task spec file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{p}: not a readable TOML file ({exc})") from None
    try:
        return _spec_from_toml(d, p)
    except UserError as exc:
        raise UserError(f"{p}: {exc}") from None


def _spec_from_toml(d: dict, path: Path) -> TaskSpec:
    unknown = sorted(set(d) - _KEYS)
    if unknown:
        raise UserError(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}")
    missing = [k for k in ("name", "inputs", "targets", "validation", "test") if k not in d]
    if missing:
        raise UserError(f"missing key(s) {', '.join(missing)}")
    for key in ("inputs", "targets"):
        if not isinstance(d[key], list):
            raise UserError(f"{key} must be a list of column names")
    for key in ("name", "description", "citation", "hf_repo", "hf_config", "csv", "validation", "test"):
        if key in d and not isinstance(d[key], str):
            raise UserError(f"{key} must be text")
    if "group" in d and not (isinstance(d["group"], str) or isinstance(d["group"], list)
                             and all(isinstance(c, str) for c in d["group"])):
        raise UserError("group must be a column name or a list of column names")
    sha = d.get("sha256", {})
    if not isinstance(sha, dict):
        raise UserError("sha256 must be a table of file name = hash")
    odd = sorted(set(sha) - set(SHA_KEYS))
    if odd:
        raise UserError(f"sha256 of unknown file(s) {', '.join(odd)}; known: {', '.join(SHA_KEYS)}")
    inputs = [str(c) for c in d["inputs"]]
    csv = d.get("csv")
    if csv is not None and not Path(csv).is_absolute():
        csv = str((path.parent / csv).resolve())
    return TaskSpec(
        name=d["name"], inputs=tuple(inputs), targets=tuple(str(c) for c in d["targets"]), group=d.get("group"),
        max_params=d.get("max_params", 12), validation=rule_in_symbols(d["validation"], inputs),
        test=d["test"] if d["test"] == PROVIDED else rule_in_symbols(d["test"], inputs),
        description=d.get("description", ""), citation=d.get("citation", ""), hf_repo=d.get("hf_repo"),
        hf_config=d.get("hf_config"), csv=csv, sha256=sha, spec_path=str(path),
        drop_incomplete=d.get("drop_incomplete", False),
    )


def benchmarks_dir() -> Path:
    """The bundled specs: the installed copy (wheel) if present, else ``<repo>/benchmarks``."""
    installed = Path(__file__).parent / "_resources" / "benchmarks"
    return installed if installed.is_dir() else Path(__file__).resolve().parents[1] / "benchmarks"


def _spec_files() -> list[Path]:
    roots = [benchmarks_dir()]
    extra = os.environ.get("DISCOVER_TASKS")
    if extra:
        if not Path(extra).is_dir():
            raise UserError(f"DISCOVER_TASKS={extra}: not a directory")
        roots.append(Path(extra))
    return [p for root in roots for p in sorted(root.rglob("*.toml"))]


def _is_spec(path: Path) -> bool:
    try:
        return "inputs" in tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: not a readable TOML file ({exc})") from None


def all_tasks() -> list[TaskSpec]:
    """Every spec in the registry, sorted by name; a spec in ``$DISCOVER_TASKS`` replaces a bundled one."""
    found: dict[str, TaskSpec] = {}
    for path in _spec_files():
        if _is_spec(path):
            spec = load_spec(path)
            found[spec.name] = spec
    return [found[k] for k in sorted(found)]


def short_name(name: str) -> str:
    """``vocab_scaling_law`` -> ``vocab``."""
    return name.removesuffix(SUFFIX)


def find_task(name: str) -> TaskSpec:
    """A task by name, short name (``vocab``, ``vocab_scaling``), unique prefix, or spec file path."""
    if name.endswith(".toml") or os.sep in name or "/" in name:
        return load_spec(name)
    tasks = all_tasks()
    by_name = {t.name: t for t in tasks}
    if name in by_name:
        return by_name[name]
    q = name.strip().lower().replace("-", "_")
    for suffix in (SUFFIX, "_scaling", "_law"):
        q = q.removesuffix(suffix)
    exact = [t for t in tasks if short_name(t.name).lower() == q]
    hits = exact or [t for t in tasks if q and short_name(t.name).lower().startswith(q)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise UserError(f"ambiguous task {name!r}: matches {', '.join(t.name for t in hits)}")
    known = ", ".join(t.name for t in tasks) or "none"
    raise UserError(f"unknown task {name!r}; known tasks: {known} (or give a spec .toml file)")


def column_names(value: str | Sequence[str] | None) -> list[str]:
    """Column names given as ``"N, D"`` or as a list (empty ones dropped)."""
    if not value:
        return []
    names = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return [n.strip() for n in names if n.strip()]


def check_name(name: str) -> None:
    """UserError unless ``name`` can name a task (and its folder of runs)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", name):
        raise UserError(f"--name {name!r}: use letters, digits, '_', '-' and '.' (it names a folder), "
                        "starting with a letter or digit")


def csv_task(csv: str, inputs: list[str], targets: list[str], group: str | Sequence[str] | None, holdout: str,
             validation: str | None = None, max_params: int = 12, name: str | None = None,
             drop_incomplete: bool = False) -> TaskSpec:
    """A user's own table as a task named ``name`` (default: after the file): test rows held out by
    ``holdout``, validation by ``validation`` (default: the same rule). Rules may name columns in
    back-quotes (`` `smooth loss` ``)."""
    path = Path(csv).expanduser()
    if not path.is_file():
        raise UserError(f"{csv}: no such file")
    if name is not None:
        check_name(name)
    name = name or re.sub(r"[^A-Za-z0-9_.\-]", "_", path.stem).lstrip("_.-") or "table"
    inputs, targets = list(inputs), list(targets)
    return TaskSpec(
        name=name, inputs=tuple(inputs), targets=tuple(targets), group=group or (), max_params=max_params,
        validation=rule_in_symbols(validation or holdout, inputs), test=rule_in_symbols(holdout, inputs),
        description=f"user table {path.name}", csv=str(path.resolve()), drop_incomplete=drop_incomplete,
    )
