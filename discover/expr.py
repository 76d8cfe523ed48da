"""Law expressions: the whitelist parser, complexity, canonical form and numeric evaluation.

A law is a sympy expression in the task's input symbols and the parameters ``p0..pk``.
Text becomes an expression only through :func:`parse`, which walks Python's ``ast`` of the
text and admits a fixed set of node types, names and functions; nothing is ever passed to
``eval``, ``exec`` or ``sympify``. Numeric evaluation (:func:`compile_expr`) interprets the
sympy tree with numpy, so no code is generated either.

Complexity is the number of nodes of the sympy expression tree (every operator, function,
symbol and number counts one; sympy writes ``a/b`` as ``a*b**-1`` and ``a-b`` as
``a + (-1)*b``, so those count as such).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from discover.errors import ExprError

MAX_TEXT = 4000
MAX_DEPTH = 40
MAX_NODES = 400
MAX_CONST = 1e30
MAX_EXPONENT = 16  # |c| bound for a constant exponent: x**3 is fine, x**1e6 is not

PARAM_RE = re.compile(r"^p(\d+)$")

# Functions admitted in law text. Beyond the basic ones (log, exp, sqrt, abs), ``tanh``
# gives smooth saturations/transitions and ``min``/``max`` are needed by published laws
# (e.g. Muennighoff et al.'s data-constrained law caps unique parameters with a min).
FUNCTIONS: dict[str, Callable[..., sp.Expr]] = {
    "log": sp.log,
    "ln": sp.log,
    "exp": sp.exp,
    "sqrt": sp.sqrt,
    "abs": sp.Abs,
    "Abs": sp.Abs,
    "tanh": sp.tanh,
    "min": sp.Min,
    "Min": sp.Min,
    "max": sp.Max,
    "Max": sp.Max,
}
CONSTANTS = {"E": sp.E, "pi": sp.pi}
ARITY = {"log": 1, "ln": 1, "exp": 1, "sqrt": 1, "abs": 1, "Abs": 1, "tanh": 1}

_UNICODE = {"−": "-", "×": "*", "·": "*", "⋅": "*", "÷": "/", "^": "**"}


def param(i: int) -> sp.Symbol:
    """The i-th parameter symbol."""
    return sp.Symbol(f"p{i}")


def parse(text: str, variables: Sequence[str], max_params: int | None = None) -> sp.Expr:
    """Parse law text into a sympy expression, admitting only whitelisted constructs.

    ``variables`` are the allowed input names; parameters are ``p0``, ``p1``, ... (at most
    ``max_params`` distinct ones). Raises :class:`ExprError` with the reason otherwise.
    """
    if not isinstance(text, str):
        raise ExprError("expression must be text")
    if len(text) > MAX_TEXT:
        raise ExprError(f"expression longer than {MAX_TEXT} characters")
    for a, b in _UNICODE.items():
        text = text.replace(a, b)
    text = text.strip()
    if not text:
        raise ExprError("empty expression")
    depth = 0
    for ch in text:  # cheap guard before the parser sees deeply nested text
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth > MAX_DEPTH:
            raise ExprError(f"nesting deeper than {MAX_DEPTH}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:  # its message and place are what a user (or the LLM) needs to fix it
        where = f" at character {exc.offset}" if exc.offset else ""
        raise ExprError(f"not a valid expression: {exc.msg}{where}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExprError(f"not a valid expression: {type(exc).__name__}") from None
    builder = _Builder(set(variables))
    expr = builder.build(tree.body, 0)
    params = {s.name for s in expr.free_symbols if PARAM_RE.match(s.name)}
    if max_params is not None and len(params) > max_params:
        raise ExprError(f"{len(params)} parameters, more than the cap of {max_params}")
    if expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise ExprError("expression is infinite or undefined")
    return expr


def free_names(text: str) -> list[str]:
    """The names ``text`` uses as values (not the functions it calls), in order of first
    appearance; [] when it is not an expression (parse says why). Nothing is evaluated."""
    for a, b in _UNICODE.items():
        text = text.replace(a, b)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    names = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called),
                   key=lambda n: (n.lineno, n.col_offset))
    return list(dict.fromkeys(n.id for n in names))


class _Builder:
    """Turns a whitelisted ``ast`` tree into sympy, node by node."""

    def __init__(self, variables: set[str]):
        self.variables = variables
        self.nodes = 0

    def build(self, node: ast.AST, depth: int) -> sp.Expr:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExprError(f"expression has more than {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise ExprError(f"nesting deeper than {MAX_DEPTH}")
        if isinstance(node, ast.Constant):
            return _number(node.value)
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            arg = self.build(node.operand, depth + 1)
            return -arg if isinstance(node.op, ast.USub) else arg
        if isinstance(node, ast.BinOp):
            return self._binop(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise ExprError(f"disallowed syntax: {type(node).__name__}")

    def _name(self, name: str) -> sp.Expr:
        if name in self.variables:
            return sp.Symbol(name)
        if name in CONSTANTS:  # sympy prints exp(1) as E: text written by to_text must parse back
            return CONSTANTS[name]
        m = PARAM_RE.match(name)
        if m and int(m.group(1)) < 1000:
            return param(int(m.group(1)))
        if name in FUNCTIONS:
            raise ExprError(f"function {name} used without arguments")
        raise ExprError(f"unknown name: {name}")

    def _binop(self, node: ast.BinOp, depth: int) -> sp.Expr:
        op = node.op
        if not isinstance(op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.BitXor)):
            raise ExprError(f"disallowed operator: {type(op).__name__}")
        a = self.build(node.left, depth + 1)
        b = self.build(node.right, depth + 1)
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Div):
            if b == 0:
                raise ExprError("division by zero")
            return a / b
        return _power(a, b)

    def _call(self, node: ast.Call, depth: int) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise ExprError(f"disallowed call target: {type(node.func).__name__}")
        name = node.func.id
        if name not in FUNCTIONS:
            raise ExprError(f"function not allowed: {name}")
        if node.keywords:
            raise ExprError("keyword arguments are not allowed")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise ExprError("starred arguments are not allowed")
        want = ARITY.get(name)
        if (want is not None and len(node.args) != want) or (want is None and len(node.args) < 2):
            raise ExprError(f"{name} takes {want or 'at least 2'} argument(s), got {len(node.args)}")
        args = [self.build(a, depth + 1) for a in node.args]
        return FUNCTIONS[name](*args)


def _number(value: object) -> sp.Expr:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExprError(f"disallowed constant: {value!r}")
    if isinstance(value, int):
        if abs(value) > MAX_CONST:
            raise ExprError("constant too large")
        return sp.Integer(value)
    if not math.isfinite(value) or abs(value) > MAX_CONST:
        raise ExprError("constant too large or not finite")
    return sp.Float(value)


def _power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    if exponent.is_Number:
        if abs(float(exponent)) > MAX_EXPONENT and not base.is_Number:
            raise ExprError(f"constant exponent {exponent} exceeds {MAX_EXPONENT}")
        if base.is_Number:
            try:
                value = math.pow(float(base), float(exponent))
            except (OverflowError, ValueError, ZeroDivisionError):
                raise ExprError("numeric power out of range") from None
            if not math.isfinite(value) or abs(value) > MAX_CONST or isinstance(value, complex):
                raise ExprError("numeric power out of range")
            if base.is_Integer and exponent.is_Integer and exponent >= 0:
                return sp.Integer(int(base) ** int(exponent))
            return sp.Float(value)
    return sp.Pow(base, exponent)


# --- structure -------------------------------------------------------------------------


def params_of(expr: sp.Expr) -> list[sp.Symbol]:
    """The parameter symbols of ``expr``, sorted by index."""
    found = [s for s in expr.free_symbols if PARAM_RE.match(s.name)]
    return sorted(found, key=lambda s: int(s.name[1:]))


def inputs_of(expr: sp.Expr) -> list[str]:
    """Names of the non-parameter symbols of ``expr``, sorted."""
    return sorted(s.name for s in expr.free_symbols if not PARAM_RE.match(s.name))


def complexity(expr: sp.Expr) -> int:
    """Node count of the sympy expression tree."""
    return sum(1 for _ in sp.preorder_traversal(expr))


def renumber(expr: sp.Expr) -> sp.Expr:
    """Rename parameters to p0..pk-1 in order of first appearance (a stable, compact form)."""
    order: list[sp.Symbol] = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Symbol) and PARAM_RE.match(node.name) and node not in order:
            order.append(node)
    mapping = {s: param(i) for i, s in enumerate(order) if s != param(i)}
    return expr.xreplace(mapping) if mapping else expr  # simultaneous: p1 -> p0 and p0 -> p1 swap


_C = sp.Symbol("_c")


def canonical_key(expr: sp.Expr) -> str:
    """A key equal for laws that differ only in parameter names (for de-duplication)."""
    return sp.srepr(expr.xreplace({p: _C for p in params_of(expr)}))


def to_text(expr: sp.Expr) -> str:
    """Text that :func:`parse` turns back into the same expression."""
    return sp.sstr(expr, full_prec=False)


def collapse_constants(expr: sp.Expr) -> sp.Expr:
    """Merge every maximal group of parameters and numbers into a single fresh parameter,
    then renumber.

    ``p0*p1*x`` becomes ``p0*x``; ``exp(p2)*x**(p3 + 1)`` becomes ``p0*x**p1``. A lone
    parameter, possibly with a numeric factor (``-p2``), is left as it is. The family of
    functions is unchanged or widened, and redundant parameters disappear.
    """
    counter = iter(range(10_000, 20_000))

    def is_const(node: sp.Expr) -> bool:
        syms = node.free_symbols
        return bool(syms) and all(PARAM_RE.match(s.name) for s in syms)

    def is_simple(node: sp.Expr) -> bool:
        if isinstance(node, sp.Symbol):
            return True
        return (isinstance(node, sp.Mul) and len(node.args) == 2 and node.args[0].is_Number
                and isinstance(node.args[1], sp.Symbol))

    def walk(node: sp.Expr) -> sp.Expr:
        if is_const(node):
            return node if is_simple(node) else param(next(counter))
        if not node.args:
            return node
        if isinstance(node, (sp.Add, sp.Mul)):
            consts = [a for a in node.args if is_const(a)]
            if consts:
                numbers = [a for a in node.args if a.is_Number]
                rest = [walk(a) for a in node.args if not is_const(a) and not a.is_Number]
                lone = len(consts) == 1 and not numbers and isinstance(consts[0], sp.Symbol)
                return node.func(consts[0] if lone else param(next(counter)), *rest)
        return node.func(*[walk(a) for a in node.args])

    return renumber(walk(sp.powsimp(expr)))


# --- numeric evaluation -----------------------------------------------------------------

Evaluator = Callable[[Mapping[str, np.ndarray]], np.ndarray]


def log_key(name: str) -> str:
    """The key under which :func:`with_logs` stores the log of column ``name`` (not an identifier)."""
    return f"log:{name}"


def with_logs(X: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``X`` plus the log of every column whose values are all positive and finite, for evaluators
    that take it many times: ``x**p`` is then ``exp(p*log(x))`` and ``log(x)`` a lookup (the
    same values up to rounding, several times faster than ``np.power``)."""
    out = dict(X)
    for name, v in X.items():
        if isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype.kind == "f" and len(v) and np.all(v > 0) \
                and np.all(np.isfinite(v)):
            out[log_key(name)] = np.log(v)
    return out


def compile_expr(expr: sp.Expr) -> Evaluator:
    """Compile ``expr`` into a function of a name->array mapping, returning float arrays.

    Overflow and invalid operations give inf/NaN silently (no warnings); callers decide.
    A mapping made by :func:`with_logs` supplies logs of inputs, used where the law takes a
    power or the log of an input.
    """
    fn = _compile(sp.sympify(expr))  # a substitution may leave a plain int (p0 with p0 = 0)

    def evaluate(env: Mapping[str, np.ndarray]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(fn(env), dtype=float)

    return evaluate


def _compile(node: sp.Expr) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
    if isinstance(node, sp.Symbol):
        name = node.name
        return lambda env: env[name]
    if node.is_Number:
        value = float(node)
        return lambda env: value
    if node is sp.pi:
        return lambda env: math.pi
    if node is sp.E:
        return lambda env: math.e
    args = [_compile(a) for a in node.args]
    if isinstance(node, sp.Add):
        return _fold(args, np.add)
    if isinstance(node, sp.Mul):
        return _fold(args, np.multiply)
    if isinstance(node, sp.Pow):
        base, exp_ = args
        e = node.args[1]
        if e == -1:
            return lambda env: np.reciprocal(np.asarray(base(env), dtype=float))
        if e == 2:
            return lambda env: np.square(base(env))
        if e == sp.Rational(1, 2):
            return lambda env: np.sqrt(base(env))
        if e == sp.Rational(-1, 2):
            return lambda env: 1.0 / np.sqrt(base(env))

        def power(env):
            return np.power(np.asarray(base(env), dtype=float), exp_(env))

        if isinstance(node.args[0], sp.Symbol):
            key = log_key(node.args[0].name)
            return lambda env: np.exp(exp_(env) * env[key]) if key in env else power(env)
        return power
    if isinstance(node, sp.log) and isinstance(node.args[0], sp.Symbol):
        key, (a,) = log_key(node.args[0].name), args
        return lambda env: env[key] if key in env else np.log(a(env))
    unary = {sp.log: np.log, sp.exp: np.exp, sp.Abs: np.abs, sp.tanh: np.tanh}
    for cls, f in unary.items():
        if isinstance(node, cls):
            (a,) = args
            return lambda env, f=f, a=a: f(a(env))
    if isinstance(node, sp.Min):
        return _fold(args, np.minimum)
    if isinstance(node, sp.Max):
        return _fold(args, np.maximum)
    raise ExprError(f"cannot evaluate {type(node).__name__}")


def _fold(args: list, op: Callable) -> Callable:
    if len(args) == 2:
        a, b = args
        return lambda env: op(a(env), b(env))

    def run(env):
        acc = args[0](env)
        for f in args[1:]:
            acc = op(acc, f(env))
        return acc

    return run
