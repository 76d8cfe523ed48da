"""A law as a self-contained Python module: numpy only, the fitted parameters inside.

The formula is printed by sympy's NumPy printer from the law parsed through the whitelist
(:func:`discover.expr.parse`); the module scales each input as the search did (``N / 1e8``)
before applying it, so it computes what ``discover predict`` computes.
"""

from __future__ import annotations

import datetime as _dt
import keyword
import math

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from discover import __version__
from discover.display import raw_units
from discover.export import Exported
from discover.expr import params_of, parse

# names the module itself uses: an input named so gets a trailing underscore as an argument
_TAKEN = frozenset({"numpy", "functools", "float", "abs", "law", "predict", "group", "target", "INPUTS", "TARGETS",
                    "GROUPS", "PARAMS", "SCALES", "TRAIN_RANGES"})


def argument_names(symbols: tuple[str, ...]) -> dict[str, str]:
    """Input symbol -> the argument name it gets in the module (a name the module uses gets '_')."""
    out: dict[str, str] = {}
    for s in symbols:
        name = s
        while name in _TAKEN or keyword.iskeyword(name) or name in out.values() or (name != s and name in symbols):
            name += "_"
        out[s] = name
    return out


def to_python(ex: Exported) -> str:
    law = ex.law
    expr = parse(law.text, law.symbols)
    names = [p.name for p in params_of(expr)]
    args = argument_names(law.symbols)
    expr = expr.xreplace({sp.Symbol(s): sp.Symbol(a) for s, a in args.items() if s != a})
    body = NumPyPrinter({"fully_qualified_modules": True}).doprint(expr)
    inputs = [args[s] for s in law.symbols]
    targets, groups = law.targets, law.groups
    one_group, one_target = len(groups) == 1, len(targets) == 1
    only_group, only_target = ", the only one" if one_group else "", ", the only one" if one_target else ""
    scores = ex.scores
    test_name = "dev R²" if ex.split == "development" else "test R²"
    doc = [
        f"Scaling law found by discover {__version__} (task {ex.task}; run {ex.run}; law {law.id}"
        f"{', recommended' if law.recommended else ''}).",
        "",
        f"    {', '.join(targets)} = {raw_units(law.text, list(law.symbols), law.scales)}",
        "",
        "Inputs in the data's own units: " + ", ".join(
            f"{a} (column {c!r})" if a != c else a for a, c in zip(inputs, law.inputs, strict=True)) + ".",
        "Parameters fitted on all of the run's training rows, per group" + ("" if one_target else " and target") + ".",
        f"Validation R² {scores.val.r2:.4f}, {test_name} {scores.test.r2:.4f}; complexity {scores.complexity}.",
        "Past the training range of a group (TRAIN_RANGES) the law extrapolates.",
        f"Written {_dt.date.today().isoformat()}. Needs numpy.",
    ]
    lines = [
        '"""' + "\n".join(doc).replace("\\", "\\\\").replace('"""', '\\"\\"\\"') + '\n"""',
        "",
        *(["import functools", ""] if "functools." in body else []),
        "import numpy",
        "",
        f"INPUTS = {dict(zip(inputs, law.inputs, strict=True))!r}  # argument -> column of the data",
        f"TARGETS = {tuple(targets)!r}",
        f"GROUPS = {tuple(groups)!r}",
        f"SCALES = {{{', '.join(f'{args[s]!r}: {law.scales.get(s, 1.0)!r}' for s in law.symbols)}}}"
        "  # the law takes input / scale",
        f"# (target, group) -> {', '.join(names)}",
        "PARAMS = {",
        *(f"    ({t!r}, {g!r}): {_numbers(law.params[i * len(groups) + j])},"
          for i, t in enumerate(targets) for j, g in enumerate(groups)),
        "}",
        *_ranges(law, args),
        "",
        "",
        f"def law({', '.join([*inputs, *names])}):",
        f'    """{", ".join(targets)} given the inputs (numbers or arrays) and one set of parameters."""',
        *(f"    {a} = numpy.asarray({a}, dtype=float) / SCALES[{a!r}]" for a in inputs),
        "    with numpy.errstate(all='ignore'):  # NaN or inf where the law is undefined, as in discover",
        f"        return {body}",
        "",
        "",
        f"def predict({', '.join(inputs)}, group={repr(groups[0]) if one_group else None}, "
        f"target={repr(targets[0]) if one_target else None}):",
        f'    """The law with the parameters fitted for ``group`` (one of GROUPS{only_group})'
        f' and ``target`` (one of TARGETS{only_target})."""',
        "    if (target, group) not in PARAMS:",
        "        raise ValueError(f'no parameters for target {target!r} and group {group!r}; '",
        "                         f'targets: {TARGETS}, groups: {GROUPS}')",
        f"    return law({', '.join(inputs)}, *PARAMS[(target, group)])",
        "",
    ]
    return "\n".join(lines)


def _number(v: float) -> str:
    return repr(float(v)) if math.isfinite(v) else f"float('{float(v)}')"


def _numbers(values) -> str:
    """A tuple of floats as Python source ('()' for none, '(x,)' for one)."""
    inner = ", ".join(_number(v) for v in values)
    return f"({inner},)" if len(values) == 1 else f"({inner})"


def _ranges(law, args: dict[str, str]) -> list[str]:
    if law.ranges is None:
        return ["TRAIN_RANGES = None  # not recorded by this run"]
    by_column = dict(zip(law.inputs, law.symbols, strict=True))
    out = ["TRAIN_RANGES = {  # group -> argument -> (lowest, highest) value in its training rows"]
    for g, span in law.ranges.items():
        parts = ", ".join(f"{args[by_column[c]]!r}: ({_number(lo)}, {_number(hi)})"
                          for c, (lo, hi) in span.items() if c in by_column)
        out.append(f"    {g!r}: {{{parts}}},")
    return [*out, "}"]
