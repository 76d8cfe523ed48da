"""Genetic-programming operators on law expressions, with DEAP's tree operators.

Laws travel as sympy expressions; an operator turns its parents into DEAP ``PrimitiveTree``s
(parameters become the placeholder terminal ``P``), applies a DEAP operator, and turns the
child back into sympy, where every ``P`` becomes a fresh parameter and parameter-only
subtrees are merged (:func:`discover.expr.collapse_constants`). DEAP's ``gp.compile`` and
``from_string`` are never used: trees are built and read node by node.

Operators are plain functions ``(parents, ctx) -> expr | None`` registered in one toolbox
(:func:`make_toolbox`), as DEAP does.
"""

from __future__ import annotations

import operator
import random
from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp
from deap import base, gp

from discover.expr import PARAM_RE, collapse_constants, params_of

P = "P"  # the parameter placeholder terminal


def _protected(*_args):  # DEAP wants callables; trees are never executed
    raise RuntimeError("GP trees are not executed")


@dataclass(frozen=True)
class Context:
    """What operators need besides their parents."""

    pset: gp.PrimitiveSet
    symbols: tuple[str, ...]
    positive: dict[str, bool]
    rng: random.Random


def make_pset(symbols: Sequence[str]) -> gp.PrimitiveSet:
    pset = gp.PrimitiveSet("law", 0)
    for name, arity in [("add", 2), ("sub", 2), ("mul", 2), ("div", 2), ("pow", 2), ("log", 1), ("exp", 1),
                        ("neg", 1), ("tanh", 1)]:
        pset.addPrimitive(_protected, arity, name=name)
    for s in symbols:
        pset.addTerminal(s, name=s)
    pset.addTerminal(P, name=P)
    pset.addTerminal(1, name="1")
    pset.addTerminal(2, name="2")
    pset.addTerminal(0.5, name="0.5")
    return pset


# --- conversion ---------------------------------------------------------------------------


def to_tree(expr: sp.Expr, pset: gp.PrimitiveSet) -> gp.PrimitiveTree:
    """A sympy law as a DEAP tree (each parameter occurrence becomes ``P``)."""
    nodes: list = []

    def prim(name: str) -> None:
        nodes.append(pset.mapping[name])

    def term(name: str) -> None:
        if name in pset.mapping:
            nodes.append(pset.mapping[name])
        else:
            nodes.append(gp.Terminal(name, False, object))

    def fold(name: str, args: Sequence[sp.Expr]) -> None:
        for _ in range(len(args) - 1):
            prim(name)
        for a in args:
            walk(a)

    def walk(e: sp.Expr) -> None:
        if isinstance(e, sp.Symbol):
            term(P if PARAM_RE.match(e.name) else e.name)
        elif e.is_Number:
            term(_num(e))
        elif isinstance(e, sp.Add):
            fold("add", e.args)
        elif isinstance(e, sp.Mul):
            num = [a for a in e.args if not (a.is_Pow and a.exp.is_Number and a.exp < 0)]
            den = [1 / a for a in e.args if a not in num]
            if den:
                prim("div")
                fold("mul", num) if num else term("1")
                fold("mul", den)
            else:
                fold("mul", num)
        elif isinstance(e, sp.Pow):
            if e.exp == -1:
                prim("div")
                term("1")
                walk(e.base)
            else:
                prim("pow")
                walk(e.base)
                walk(e.exp)
        elif isinstance(e, (sp.log, sp.exp, sp.tanh)):
            prim(type(e).__name__)
            walk(e.args[0])
        else:  # Abs, Min, Max and others: keep as an opaque terminal-free subtree is not possible;
            raise ValueError(f"no GP form for {type(e).__name__}")

    walk(expr)
    return gp.PrimitiveTree(nodes)


def _num(e: sp.Expr) -> str:
    v = float(e)
    return str(int(v)) if v.is_integer() and abs(v) < 1e6 else repr(v)


_BUILD = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "log": sp.log,
    "exp": sp.exp,
    "tanh": sp.tanh,
    "neg": operator.neg,
}


def from_tree(tree: Sequence) -> sp.Expr:
    """A DEAP tree back to sympy: ``P`` leaves become fresh parameters, constants merge."""
    counter = iter(range(10_000))
    pos = 0

    def walk() -> sp.Expr:
        nonlocal pos
        node = tree[pos]
        pos += 1
        if isinstance(node, gp.Primitive):
            args = [walk() for _ in range(node.arity)]
            return _BUILD[node.name](*args)
        name = node.name
        if name == P:
            return sp.Symbol(f"p{next(counter)}")
        try:
            return sp.Integer(int(name)) if name.lstrip("-").isdigit() else sp.Float(float(name))
        except ValueError:
            return sp.Symbol(name)

    expr = walk()
    return collapse_constants(expr)


# --- operators ------------------------------------------------------------------------------


def _tree(expr: sp.Expr, ctx: Context) -> gp.PrimitiveTree | None:
    try:
        return to_tree(expr, ctx.pset)
    except (ValueError, KeyError):
        return None


def _grow(ctx: Context, max_depth: int = 2) -> list:
    return gp.genGrow(ctx.pset, 0, max_depth)


def subtree_mutation(parents: Sequence[sp.Expr], ctx: Context) -> sp.Expr | None:
    tree = _tree(parents[0], ctx)
    if tree is None:
        return None
    (child,) = gp.mutUniform(tree, expr=lambda pset, type_: _grow(ctx), pset=ctx.pset)
    return from_tree(child)


def point_mutation(parents: Sequence[sp.Expr], ctx: Context) -> sp.Expr | None:
    tree = _tree(parents[0], ctx)
    if tree is None or len(tree) < 2:
        return None
    (child,) = gp.mutNodeReplacement(tree, pset=ctx.pset)
    return from_tree(child)


def shrink_mutation(parents: Sequence[sp.Expr], ctx: Context) -> sp.Expr | None:
    tree = _tree(parents[0], ctx)
    if tree is None or len(tree) < 3:
        return None
    (child,) = gp.mutShrink(tree)
    return from_tree(child)


def insert_mutation(parents: Sequence[sp.Expr], ctx: Context) -> sp.Expr | None:
    tree = _tree(parents[0], ctx)
    if tree is None:
        return None
    (child,) = gp.mutInsert(tree, pset=ctx.pset)
    return from_tree(child)


def crossover(parents: Sequence[sp.Expr], ctx: Context) -> sp.Expr | None:
    if len(parents) < 2:
        return None
    a, b = _tree(parents[0], ctx), _tree(parents[1], ctx)
    if a is None or b is None or len(a) < 2 or len(b) < 2:
        return None
    child, _ = gp.cxOnePoint(a, b)
    return from_tree(child)


def _subexpressions(expr: sp.Expr) -> list[sp.Expr]:
    return [e for e in sp.preorder_traversal(expr) if e.free_symbols and not (isinstance(e, sp.Symbol)
                                                                             and PARAM_RE.match(e.name))]


def parameter_insertion(parents: Sequence[sp.Expr], ctx: Context) -> sp.Expr | None:
    """Give a random subterm a new degree of freedom: a scale, an offset or an exponent."""
    expr = parents[0]
    subs = _subexpressions(expr)
    if not subs:
        return None
    s = ctx.rng.choice(subs)
    p = sp.Symbol("p999")
    wrap = ctx.rng.choice([s * p, s + p, s**p, (s + p) ** sp.Symbol("p998")])
    return collapse_constants(expr.xreplace({s: wrap}))


def parameter_removal(parents: Sequence[sp.Expr], ctx: Context) -> sp.Expr | None:
    """Fix one parameter to 0 or 1 (whichever leaves a law that still depends on inputs)."""
    expr = parents[0]
    params = params_of(expr)
    if len(params) < 2:
        return None
    p = ctx.rng.choice(params)
    for value in ctx.rng.sample([0, 1], 2):
        child = expr.xreplace({p: sp.Integer(value)})
        if child.has(sp.zoo, sp.nan, sp.oo) or not any(not PARAM_RE.match(s.name) for s in child.free_symbols):
            continue
        return collapse_constants(child)
    return None


def add_term(parents: Sequence[sp.Expr], ctx: Context) -> sp.Expr | None:
    """Add a scaled term in one input: a power law where the input is positive, else linear."""
    x = sp.Symbol(ctx.rng.choice(ctx.symbols))
    a, b = sp.Symbol("p998"), sp.Symbol("p999")
    if ctx.positive[x.name]:  # power law, log, or a bowl in log(x) with its optimum at -b
        term = ctx.rng.choice([a * x**b, a * sp.log(x), a * (sp.log(x) + b) ** 2])
    else:
        term = ctx.rng.choice([a * x, a * (x + b) ** 2, a * sp.exp(b * x)])
    return collapse_constants(parents[0] + term)


def multiply_term(parents: Sequence[sp.Expr], ctx: Context) -> sp.Expr | None:
    """Multiply the law, or one of its additive terms, by a factor in one input."""
    expr = parents[0]
    x = sp.Symbol(ctx.rng.choice(ctx.symbols))
    a, b = sp.Symbol("p998"), sp.Symbol("p999")
    factor = x**b if ctx.positive[x.name] else sp.exp(b * x)
    factor = ctx.rng.choice([factor, 1 + a * (sp.log(x) if ctx.positive[x.name] else x)])
    terms = [t for t in sp.Add.make_args(expr) if t.free_symbols - set(params_of(t))]
    if terms and ctx.rng.random() < 0.7:
        t = ctx.rng.choice(terms)
        return collapse_constants(expr.xreplace({t: t * factor}) if t in expr.args else expr * factor)
    return collapse_constants(expr * factor)


def merge_terms(parents: Sequence[sp.Expr], ctx: Context) -> sp.Expr | None:
    """Sum of two parents' input-dependent terms: combines what each captured."""
    if len(parents) < 2:
        return None
    a, b = parents[0], parents[1]
    terms_b = [t for t in sp.Add.make_args(b) if t.free_symbols - set(params_of(t))]
    if not terms_b:
        return None
    shift = {p: sp.Symbol(f"p{i + 500}") for i, p in enumerate(params_of(b))}
    return collapse_constants(a + ctx.rng.choice(terms_b).xreplace(shift))


OPERATORS = {
    "subtree": subtree_mutation,
    "point": point_mutation,
    "shrink": shrink_mutation,
    "insert": insert_mutation,
    "crossover": crossover,
    "param+": parameter_insertion,
    "param-": parameter_removal,
    "add-term": add_term,
    "multiply-term": multiply_term,
    "merge-terms": merge_terms,
}

# how often each operator is picked
WEIGHTS = {"subtree": 2, "point": 2, "shrink": 1, "insert": 1, "crossover": 2, "param+": 2, "param-": 1,
           "add-term": 2, "multiply-term": 2, "merge-terms": 2}


def make_toolbox(symbols: Sequence[str], positive: dict[str, bool]) -> base.Toolbox:
    """One DEAP toolbox holding every operator; ``toolbox.context(rng)`` builds the context."""
    toolbox = base.Toolbox()
    pset = make_pset(symbols)
    toolbox.register("context", lambda rng: Context(pset=pset, symbols=tuple(symbols), positive=positive, rng=rng))
    for name, op in OPERATORS.items():
        toolbox.register(name, op)
    toolbox.operators = list(OPERATORS)
    toolbox.weights = [WEIGHTS[n] for n in OPERATORS]
    return toolbox
