"""Holdout rules: each form, per group, unions, determinism, errors; the SLDBench validation fractions."""

import numpy as np
import pytest

from discover.data import Split, load_dataset
from discover.errors import UserError
from discover.holdout import FORMS, holdout_mask, parse_rule, validate_rule
from discover.tasks import all_tasks

SYMS = ("N", "D")


def split(N, D=None, group=None) -> Split:
    N = np.asarray(N, dtype=float)
    D = np.ones_like(N) if D is None else np.asarray(D, dtype=float)
    group = np.zeros(len(N), dtype=int) if group is None else np.asarray(group)
    return Split(X={"N": N, "D": D}, Y=np.zeros((len(N), 1)), group=group)


def held(rule, s, seed=0) -> list[int]:
    return np.flatnonzero(holdout_mask(rule, s, SYMS, seed=seed)).tolist()


def test_largest_percent_holds_out_the_top_quantile_with_ties():
    s = split(np.arange(1, 21))
    assert held("largest 10% of N", s) == [18, 19]
    assert held("largest 50% of N", s) == list(range(10, 20))
    assert held("LARGEST 0.5% OF N", s) == [19]  # at least one row
    s = split([1, 2, 3, 4, 4, 4])
    assert held("largest 10% of N", s) == [3, 4, 5]  # ties at the threshold are all held out


def test_largest_of_an_expression():
    s = split([1, 2, 3, 4], D=[40, 30, 2, 1])
    assert held("largest 25% of N*D", s) == [1]
    assert held("largest 25% of log(N) + 0*D", s) == [3]
    assert held("largest 25% of D/N", s) == [0]


def test_top_values():
    s = split([1, 1, 2, 3, 3, 5, 5])
    assert held("top value of N", s) == [5, 6]
    assert held("top 1 value of N", s) == [5, 6]
    assert held("top 2 values of N", s) == [3, 4, 5, 6]
    assert held("Top 3 Values Of N", s) == [2, 3, 4, 5, 6]
    with pytest.raises(UserError, match="holds out every row"):
        held("top 4 values of N", s)


def test_random_is_seeded():
    s = split(np.arange(100.0))
    a, b, c = held("random 20%", s, seed=1), held("random 20%", s, seed=1), held("random 20%", s, seed=2)
    assert len(a) == 20 and a == b and a != c
    assert len(held("random 0.1%", s)) == 1 and len(held("random 99.9%", s)) == 99  # one held, one kept


def test_per_group():
    N = [1, 2, 3, 10, 20, 30, 40]
    g = [0, 0, 0, 1, 1, 1, 1]
    s = split(N, group=g)
    assert held("top value of N", s) == [6]
    assert held("top value of N per group", s) == [2, 6]
    assert held("largest 25% of N per group", s) == [2, 6]
    assert held("largest 50% of N  PER   GROUP", s) == [1, 2, 5, 6]
    r = holdout_mask("random 50% per group", s, SYMS, seed=3)
    assert r[:3].sum() == 2 and r[3:].sum() == 2  # round(1.5) = 2 in the 3-row group, 2 of 4


def test_union():
    s = split([1, 2, 3, 4, 5], D=[50, 1, 1, 1, 1])
    assert held("top value of N or top value of D", s) == [0, 4]
    assert held("top 2 values of N OR top value of D", s) == [0, 3, 4]
    assert held("top value of N per group or random 20%", s, seed=0) == sorted({4, *held("random 20%", s)})


def test_every_group_keeps_a_row():
    s = split([1, 2, 3, 10], group=[0, 0, 0, 1])
    with pytest.raises(UserError, match="holds out every row of group 1; try adding 'per group'"):
        held("top value of N", s)
    with pytest.raises(UserError, match="only 1 row"):
        held("top value of N per group", s)
    with pytest.raises(UserError, match="holds out every row"):
        held("top value of N or top 3 values of N", split([1, 2, 3]))


def test_non_finite_expression_values():
    with pytest.raises(UserError, match="not finite at row 1"):
        held("largest 10% of log(N)", split([-1, 2, 3]))


@pytest.mark.parametrize("rule, reason", [
    ("", "empty holdout rule"),
    ("largest N", "cannot read 'largest N'"),
    ("biggest 10% of N", "cannot read"),
    ("largest 0% of N", "0% is not between 0 and 100"),
    ("largest 100% of N", "100% is not between 0 and 100"),
    ("random 150%", "not between 0 and 100"),
    ("top 0 values of N", "K must be at least 1"),
    ("top value of Q", "unknown name: Q"),
    ("top value of N +", "not a valid expression"),
    ("top value of __import__('os')", "not allowed"),
    ("top value of p0*N", "has parameters"),
    ("top value of 3", "does not depend on any input"),
    ("top value of N or", "not a valid expression"),
    ("random 10% per groups", "cannot read"),
])
def test_bad_rules(rule, reason):
    with pytest.raises(UserError) as e:
        validate_rule(rule, SYMS)
    msg = str(e.value)
    assert reason in msg and "\n" not in msg
    if rule:
        assert msg.startswith(f"bad holdout rule {rule!r}") and msg.endswith(FORMS)


def test_parse_rule_clauses():
    clauses = parse_rule("top 2 values of N or largest 12.5% of N*D per group", SYMS)
    assert [(c.kind, c.amount, c.per_group) for c in clauses] == [("top", 2, False), ("largest", 12.5, True)]


# Validation rows carved out of train, per SLDBench task (held-out rows / train rows).
VALIDATION = {
    "parallel_scaling_law": (12, 36),  # parallel_size = 4; only three values in train
    "vocab_scaling_law": (120, 1080),
    "sft_scaling_law": (42, 504),
    "domain_mixture_scaling_law": (16, 80),
    "moe_scaling_law": (54, 193),
    "data_constrained_scaling_law": (21, 161),
    "lr_bsz_scaling_law": (47, 2702),  # the (largest N, largest D) cell, as the test
    "easy_question_scaling_law": (101, 389),
}


def test_sldbench_validation_fractions(sldbench_dir, capsys):
    lines = []
    for t in all_tasks():
        ds = load_dataset(t, sldbench_dir, download=False)
        mask = holdout_mask(t.validation, ds.train, t.symbols)
        lines.append(f"{t.name:30} {t.validation:50} {mask.sum():4}/{len(mask):4} = {mask.mean():.0%}")
        assert (int(mask.sum()), len(mask)) == VALIDATION[t.name]
        assert 0.01 <= mask.mean() <= 0.35
        for g in range(len(ds.groups)):  # every group keeps fit rows
            assert (~mask[ds.train.group == g]).sum() >= 2
    with capsys.disabled():
        print("\nvalidation held out of train:\n" + "\n".join(lines))
