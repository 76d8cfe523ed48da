"""The whitelist parser, complexity, canonical forms and numeric evaluation."""

import warnings

import numpy as np
import pytest
import sympy as sp

from discover.errors import ExprError
from discover.expr import (
    canonical_key,
    collapse_constants,
    compile_expr,
    complexity,
    params_of,
    parse,
    renumber,
    to_text,
    with_logs,
)

V = ["N", "D"]

HOSTILE = [
    "__import__('os').system('echo hi')",
    "().__class__.__bases__[0].__subclasses__()",
    "N.__class__",
    "lambda: 0",
    "(lambda x: x)(N)",
    "[x for x in ()]",
    "N if D else p0",
    "open('/etc/passwd')",
    "eval('1')",
    "exec('1')",
    "globals()",
    "'text'",
    "b'bytes'",
    "N[0]",
    "N and D",
    "N < D",
    "log(N, base=2)",
    "log(*N)",
    "N**1000000",
    "N**p0**999",  # constant exponent too large inside
    "9**9**9",
    "10**400",
    "1e999",
    "(" * 200 + "N" + ")" * 200,
    "-" * 5000 + "N",
    "N @ D",
    "N % D",
    "N // D",
    "x + 1",  # unknown name
    "sin(N)",  # function not in the whitelist
    "p0; import os",
    "N\nimport os",
    "{N: 1}",
    "f'{N}'",
    "True + N",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_parser_refuses_hostile_or_invalid_text(text):
    with pytest.raises(ExprError):
        parse(text, V)


def test_parser_accepts_laws_and_noise_free_variants():
    e = parse("p0 + p1*N^(-p2) + p3/D**p4", V)
    assert {s.name for s in e.free_symbols} == {"N", "D", "p0", "p1", "p2", "p3", "p4"}
    assert parse("p0 − p1×N", V) == parse("p0 - p1*N", V)
    assert parse("min(N, p0*D) + max(N, D) + abs(N) + sqrt(D) + tanh(N) + exp(-D) + ln(N)", V) is not None


def test_parameter_cap_is_enforced():
    with pytest.raises(ExprError, match="cap"):
        parse("p0 + p1*N + p2*D", V, max_params=2)


def test_round_trip_through_text():
    for text in ["p0 + p1/(D**p1 + p2)", "p0*exp(-p1*N)*log(D)", "Min(N, p0*D)**p1", "(N + 2.5)**(-p0)"]:
        e = parse(text, V)
        assert parse(to_text(e), V) == e


def test_complexity_counts_tree_nodes():
    # Add(p0, Mul(p1, Pow(N, p2))) -> Add, p0, Mul, p1, Pow, N, p2
    assert complexity(parse("p0 + p1*N**p2", V)) == 7
    assert complexity(parse("N", V)) == 1
    assert complexity(parse("p0 + p1*N**p2 + p3*D**p4", V)) > complexity(parse("p0 + p1*N**p2", V))


def test_canonical_key_ignores_parameter_names_only():
    a = parse("p0 + p1*N**p2", V)
    b = parse("p5 + p3*N**p9", V)
    c = parse("p0 + p1*D**p2", V)
    assert canonical_key(a) == canonical_key(b)
    assert canonical_key(a) != canonical_key(c)


def test_renumber_and_collapse():
    e = renumber(parse("p7 + p3*N", V))
    assert [p.name for p in params_of(e)] == ["p0", "p1"]
    # products and functions of parameters are one parameter
    c = collapse_constants(parse("p0*p1*N + exp(p2)*D**(p3 + 1)", V))
    assert c == parse("p0*N + p1*D**p2", V)
    # powers of the same input merge: N**a * N**b is N**(a+b)
    assert len(params_of(collapse_constants(parse("N**p0*N**p1*p2", V)))) == 2


def test_compiled_evaluation_matches_sympy_and_is_quiet_on_overflow():
    e = parse("p0 + p1*N**(-p2) + log(D)", V)
    f = compile_expr(e)
    N = np.array([1.0, 10.0, 100.0])
    D = np.array([1.0, 2.0, 3.0])
    got = f({"N": N, "D": D, "p0": 1.0, "p1": 2.0, "p2": 0.5})
    want = [float(e.subs({"N": n, "D": d, "p0": 1, "p1": 2, "p2": 0.5})) for n, d in zip(N, D, strict=False)]
    np.testing.assert_allclose(got, want)
    g = compile_expr(parse("exp(N) + log(D - 5)", V))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = g({"N": np.array([1e5]), "D": np.array([1.0])})
    assert not np.isfinite(out).any()


def test_logs_of_inputs_give_the_same_values_and_only_where_defined():
    # fits evaluate with with_logs(X): x**p as exp(p*log(x)), log(x) looked up; same numbers
    f = compile_expr(parse("p0*N**p1 + log(D)*D**(-p2)", V))
    X = {"N": np.array([1.0, 3e9, 0.5]), "D": np.array([2.0, 1e12, 7.0])}
    env = {"p0": 2.0, "p1": np.array([0.3, -0.7, 1.5]), "p2": 0.25}
    np.testing.assert_allclose(f({**with_logs(X), **env}), f({**X, **env}), rtol=1e-12)
    # a column with a value <= 0 (or not finite) gets no log: powers and logs keep numpy's answers
    odd = {"N": np.array([-1.0, 0.0, 4.0]), "D": np.array([np.inf, 2.0, 3.0])}
    assert set(with_logs(odd)) == {"N", "D"}
    np.testing.assert_array_equal(f({**with_logs(odd), **env}), f({**odd, **env}))


def test_numbers_stay_exact_where_possible():
    assert parse("N**2", V) == sp.Symbol("N") ** 2
    assert parse("N**(1/2)", V) == sp.sqrt(sp.Symbol("N"))
