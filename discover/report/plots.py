"""The report's plots, drawn with matplotlib (an Agg canvas per figure, no pyplot state) from the report content.

Every function takes content dataclasses and returns a ``Figure``; :func:`to_bytes` turns it
into SVG (text as paths, so no fonts are needed to view it) or PNG bytes.
"""

from __future__ import annotations

import io
import math
import re

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from discover.report.content import History, RunReport
from discover.report.fit_view import FitData

ORIGIN_COLORS = {"motif": "#1f77b4", "gp": "#2ca02c", "llm": "#9467bd", "user": "#8c564b"}
TRAIN, TEST, PRED, HUMAN, REC = "#4c72b0", "#dd5a2b", "#222222", "#c44e52", "#e6a700"
SHADE = "#f3d9c9"
MAX_PANELS = 48
RC = {"svg.fonttype": "path", "svg.hashsalt": "discover-report", "font.size": 9, "axes.titlesize": 9,
      "axes.labelsize": 9, "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8}


def origin_color(origin: str) -> str:
    return ORIGIN_COLORS.get(origin.split(":")[0], "#7f7f7f")


def figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas (no pyplot, no global backend switch)."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def to_bytes(fig: Figure, fmt: str = "svg", tight: bool = True) -> bytes:
    """SVG or PNG bytes of a figure (SVG without a date, with stable ids, for reproducible files)."""
    buf = io.BytesIO()
    kw: dict = {"bbox_inches": "tight", "pad_inches": 0.03} if tight else {}
    with matplotlib.rc_context(RC):
        if fmt == "svg":
            fig.savefig(buf, format="svg", metadata={"Date": None}, transparent=True, **kw)
        elif fmt == "png":
            fig.savefig(buf, format="png", dpi=150, facecolor="white", metadata={"Software": None}, **kw)
        else:
            raise ValueError(f"unknown image format {fmt!r}")
    return buf.getvalue()


# --- Pareto frontier -----------------------------------------------------------------------------


def frontier_plot(run: RunReport) -> Figure:
    """The search's score (validation NMSE; with selection folds, the geometric mean with the
    first fold's, see evaluate.search_score) against complexity: every candidate, the frontier,
    the recommended law, the human law."""
    with matplotlib.rc_context(RC):
        fig = figure(7.6, 3.9)
        ax = fig.add_subplot()
        floor = 1e-12
        pts = [p for p in run.points if not p.on_frontier]
        front_max = max((law.score for law in run.frontier), default=1.0)
        top = max(front_max, min(max((p.score for p in pts), default=1.0), 100 * max(front_max, 1e-3))) * 2
        if pts:
            ys = np.array([max(p.score, floor) for p in pts])
            clipped = ys > top
            xs = np.array([p.complexity for p in pts])
            ax.scatter(xs[~clipped], ys[~clipped], s=9, color="#c8c8c8", zorder=1, linewidths=0)
            if clipped.any():
                ax.scatter(xs[clipped], np.full(clipped.sum(), top), s=14, marker="^", color="#c8c8c8", zorder=1,
                           linewidths=0, clip_on=False)
        on_front = {p.id for p in run.points if p.on_frontier}
        front = [law for law in run.frontier if law.id in on_front]  # the reported law may lie off it
        xs = [law.complexity for law in front]
        ys = [max(law.score, floor) for law in front]
        if front:
            ax.step(xs, ys, where="post", color="#555555", lw=1.0, zorder=2)
            for law in front:
                ax.scatter([law.complexity], [max(law.score, floor)], s=34, color=origin_color(law.origin),
                           edgecolors="white", linewidths=0.6, zorder=3)
                ax.annotate(law.label, (law.complexity, max(law.score, floor)), textcoords="offset points",
                            xytext=(4, 4), fontsize=7, color="#333333")
        rec = run.recommended
        handles = [Line2D([], [], marker="o", ls="", color="#c8c8c8", label="other candidates"),
                   Line2D([], [], marker="o", ls="-", color="#555555", label="Pareto frontier")]
        if rec is not None:
            ax.scatter([rec.complexity], [max(rec.score, floor)], marker="*", s=260, color=REC,
                       edgecolors="black", linewidths=0.7, zorder=4)
            best = min(front, key=lambda law: law.score) if front else rec
            handles.append(Line2D([], [], marker="*", ls="", ms=13, color=REC, markeredgecolor="black",
                                  label=f"recommended ({rec.label})"))
            ax.axhline(max(best.score, floor), color=REC, lw=0.7, ls=":", zorder=0)
            se = best.score_se
            if math.isfinite(se) and se > 0 and "one validation slice" in run.rule:
                ax.axhspan(max(best.score, floor), best.score + se, color=REC, alpha=0.18, lw=0, zorder=0)
                handles.append(Patch(color=REC, alpha=0.3, label="best + 1 standard error"))
        h = run.human
        if h is not None and h.score is not None and math.isfinite(h.score):
            ax.scatter([h.complexity], [max(h.score, floor)], marker="D", s=60, color=HUMAN, edgecolors="black",
                       linewidths=0.6, zorder=4)
            ax.annotate("human law", (h.complexity, max(h.score, floor)), textcoords="offset points",
                        xytext=(5, -10), fontsize=7, color=HUMAN)
            handles.append(Line2D([], [], marker="D", ls="", color=HUMAN, markeredgecolor="black",
                                  label="human law (same protocol)"))
        for origin in sorted({law.origin.split(":")[0] for law in front}):
            handles.append(Line2D([], [], marker="o", ls="", color=origin_color(origin), label=f"from {origin}"))
        ax.set_yscale("log")
        ax.set_ylim(top=top)
        ax.set_xlabel("complexity (expression tree nodes)")
        two_steps = any(law.score != law.val.nmse for law in run.frontier)  # evaluate.search_score
        ax.set_ylabel("search score: NMSE two steps out\n(geometric mean), log scale" if two_steps
                      else "validation NMSE (= 1 − R²), log scale")
        ax.grid(True, which="major", color="#eeeeee", lw=0.6)
        ax.set_axisbelow(True)
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, ncol=1)
        return fig


# --- the recommended law against the data ------------------------------------------------------------


def _grid(n: int, per_row: int) -> tuple[int, int]:
    cols = min(n, per_row)
    return cols, int(math.ceil(n / cols))


def fit_plot(data: FitData) -> Figure:
    """Observed (train circles, test triangles) and predicted per fit unit over the main variable,
    with the range of the admitted laws' predictions as a band where the run kept them; the
    region past the training range shaded."""
    units = sorted({int(u) for u in np.unique(data.unit)})[:MAX_PANELS]
    per_row = 2 if len(units) <= 4 else 4 if len(units) <= 16 else 6
    cols, nrows = _grid(len(units), per_row)
    w = {2: 3.4, 4: 2.5, 6: 1.9}[per_row]
    with matplotlib.rc_context(RC):
        fig = figure(w * cols, w * 0.72 * nrows + 0.5)
        axes = fig.subplots(nrows, cols, squeeze=False)
        for ax in axes.flat[len(units):]:
            ax.set_visible(False)
        for ax, u in zip(axes.flat, units, strict=False):
            _panel(ax, data, u, small=per_row > 2)
        handles = [Line2D([], [], marker="o", ls="", color=TRAIN, label="train (observed)"),
                   Line2D([], [], marker="^", ls="", color=TEST, label="test (observed)"),
                   Line2D([], [], color=PRED, lw=1.0, label=f"{data.law} (predicted)")
                   if data.curves else Line2D([], [], marker="x", ls="", color=PRED, label=f"{data.law} (predicted)"),
                   Patch(color=SHADE, label="beyond the training range")]
        if data.admitted:
            handles.insert(3, Patch(color=PRED, alpha=0.15, label=f"range of the {data.admitted} admitted laws"))
        fig.legend(handles=handles, loc="upper center", ncol=len(handles), frameon=False, bbox_to_anchor=(0.5, 1.0))
        fig.supxlabel(data.main + (" (log scale)" if data.log_x else ""), fontsize=9)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (w * 0.72 * nrows + 0.5)))
        return fig


def _xticks(ax, xs: np.ndarray, log: bool) -> None:
    """A log axis with few distinct x values: tick exactly those; else no crowded minor labels."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    if not log:
        return
    values = np.unique(xs[np.isfinite(xs)])
    if 1 < len(values) <= 5:
        ax.xaxis.set_major_locator(FixedLocator(values))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
        ax.xaxis.set_minor_locator(NullLocator())
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())


def short_name(name: str, width: int) -> str:
    """A group name fit for a panel title: tuple-like names as ``a / b``, long ones cut."""
    m = re.fullmatch(r"\((.*)\)", name.strip())
    if m and "'" in name:
        name = " / ".join(part.strip().strip("'\"") for part in m.group(1).split(","))
    return name if len(name) <= width else name[: width - 1] + "…"


def _shade(ax, lo: float, hi: float, xs: np.ndarray) -> None:
    """Shade the x range past [lo, hi] where ``xs`` (test points) lie; call after plotting."""
    left, right = ax.get_xlim()
    if (xs > hi).any():
        ax.axvspan(hi, right, color=SHADE, zorder=0, lw=0)
    if (xs < lo).any():
        ax.axvspan(left, lo, color=SHADE, zorder=0, lw=0)
    ax.set_xlim(left, right)


def _panel(ax, data: FitData, u: int, small: bool) -> None:
    sel = data.unit == u
    tr, te = sel & ~data.is_test, sel & data.is_test
    if data.log_x:
        ax.set_xscale("log")
    size = 10 if small else 16
    ax.scatter(data.x[tr], data.observed[tr], s=size, marker="o", color=TRAIN, zorder=3, linewidths=0)
    ax.scatter(data.x[te], data.observed[te], s=size * 1.6, marker="^", color=TEST, zorder=4, linewidths=0)
    curves = [c for c in data.curves if c.unit == u]
    if curves:
        for c in curves:
            if c.low:
                ax.fill_between(c.x, c.low, c.high, color=PRED, alpha=0.15, lw=0, zorder=1)
            ax.plot(c.x, c.y, color=PRED, lw=0.8, alpha=0.85, zorder=2)
        if not small and 1 < len(curves) <= 4:
            for c in curves:
                ax.annotate(c.label, (c.x[-1], c.y[-1]), fontsize=6, color="#555555", xytext=(2, 0),
                            textcoords="offset points", va="center")
    else:
        if len(data.low):
            ax.vlines(data.x[sel], data.low[sel], data.high[sel], color=PRED, alpha=0.15, lw=3, zorder=1)
        ax.vlines(data.x[sel], data.observed[sel], data.predicted[sel], color="#999999", lw=0.6, zorder=2)
        ax.scatter(data.x[sel], data.predicted[sel], s=size, marker="x", color=PRED, zorder=5, linewidths=0.8)
    _xticks(ax, data.x[sel], data.log_x)
    if u in data.train_range:
        _shade(ax, *data.train_range[u], data.x[te])
    title = data.units[u] if u < len(data.units) else f"unit {u}"
    ax.set_title(short_name(title, 30 if small else 60), fontsize=7 if small else 9)
    ax.tick_params(labelsize=6 if small else 8)
    ax.grid(True, color="#eeeeee", lw=0.5)
    finite = data.observed[sel][np.isfinite(data.observed[sel])]
    if len(finite):
        lo, hi = finite.min(), finite.max()
        pad = (hi - lo) * 0.25 or abs(hi) * 0.05 or 1.0
        ax.set_ylim(lo - pad, hi + pad)


def residual_plot(data: FitData) -> Figure:
    """Left: residuals (predicted − observed, relative to |observed| when it never vanishes) against the main
    variable, every unit pooled. Right: predicted against observed."""
    with matplotlib.rc_context(RC):
        fig = figure(9.0, 3.1)
        ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.1, 1.0]})
        if data.log_x:
            ax.set_xscale("log")
        obs = data.observed
        mag = np.abs(obs)
        same_sign = bool(np.all(obs > 0) or np.all(obs < 0))
        relative = same_sign and len(obs) > 0 and float(mag.min()) > 0.2 * float(mag.max())
        res = (data.predicted - obs) / (np.abs(obs) if relative else 1.0)
        if relative:
            res = res * 100
        ax.axhline(0, color="#888888", lw=0.8)
        tr, te = ~data.is_test, data.is_test
        ax.scatter(data.x[tr], res[tr], s=12, marker="o", color=TRAIN, label="train", linewidths=0)
        ax.scatter(data.x[te], res[te], s=20, marker="^", color=TEST, label="test", linewidths=0)
        _xticks(ax, data.x, data.log_x)
        train_x = data.x[tr]
        if len(train_x):
            _shade(ax, float(train_x.min()), float(train_x.max()), data.x[te])
        ax.set_xlabel(data.main + (" (log scale)" if data.log_x else ""))
        ax.set_ylabel("residual, % of observed" if relative else "residual (predicted − observed)")
        ax.grid(True, color="#eeeeee", lw=0.5)
        ax.legend(frameon=False, loc="best")
        finite = np.isfinite(data.predicted)
        lo = float(min(obs.min(), data.predicted[finite].min(initial=obs.min())))
        hi = float(max(obs.max(), data.predicted[finite].max(initial=obs.max())))
        ax2.plot([lo, hi], [lo, hi], color="#888888", lw=0.8)
        ax2.scatter(obs[tr], data.predicted[tr], s=10, marker="o", color=TRAIN, linewidths=0)
        ax2.scatter(obs[te], data.predicted[te], s=18, marker="^", color=TEST, linewidths=0)
        ax2.set_xlabel("observed")
        ax2.set_ylabel("predicted")
        ax2.grid(True, color="#eeeeee", lw=0.5)
        fig.tight_layout()
        return fig


# --- search history --------------------------------------------------------------------------------


def history_plot(h: History) -> Figure:
    """Best validation R² so far over candidates (and cumulative fit time); throughput; frontier origins."""
    with matplotlib.rc_context(RC):
        fig = figure(9.6, 3.0)
        ax1, ax2, ax3 = fig.subplots(1, 3, gridspec_kw={"width_ratios": [2.2, 1.6, 1.2]})
        n = np.arange(1, len(h.ids) + 1)
        ax1.step(n, h.best_r2, where="post", color="#333333", lw=1.2)
        for cid, r2, origin in h.improvements:
            idx = int(np.searchsorted(h.ids, cid)) + 1
            ax1.scatter([idx], [r2], s=16, color=origin_color(origin), zorder=3, linewidths=0)
        ax1.set_xlabel("candidates evaluated")
        ax1.set_ylabel("best validation R² so far")
        finite = h.best_r2[np.isfinite(h.best_r2)]
        if len(finite):
            lo = float(np.quantile(finite, 0.1))
            ax1.set_ylim(max(-1.0, lo - 0.05 * (1 - lo)), 1.0 + 0.02 * (1 - lo))
        ax1.grid(True, color="#eeeeee", lw=0.5)
        if len(h.seconds) and h.seconds[-1] > 0:
            top = ax1.secondary_xaxis("top", functions=(_interp(n, h.seconds), _interp(h.seconds, n)))
            top.set_xlabel("cumulative fit time (s)", fontsize=7)
            top.tick_params(labelsize=6)
        window = max(10, len(h.ids) // 12)
        if len(h.seconds) > window:
            dt = h.seconds[window:] - h.seconds[:-window]
            with np.errstate(divide="ignore"):
                rate = np.where(dt > 0, window / dt, np.nan)
            ax2.plot(np.arange(window, len(h.seconds)) + 1, rate, color="#4c72b0", lw=1.0)
        if h.rate:
            ax2.axhline(h.rate, color="#dd5a2b", lw=0.9, ls="--", label=f"overall {h.rate:.1f}/s (wall)")
            ax2.legend(frameon=False, fontsize=7, loc="best")
        ax2.set_xlabel("candidates evaluated")
        ax2.set_ylabel(f"candidates / s of fit time\n(window of {window})", fontsize=8)
        ax2.grid(True, color="#eeeeee", lw=0.5)
        _origin_bars(ax3, h)
        fig.tight_layout()
        return fig


def _interp(xp: np.ndarray, fp: np.ndarray):
    xp, fp = np.asarray(xp, dtype=float), np.asarray(fp, dtype=float)

    def f(x):
        return np.interp(x, xp, fp)

    return f


def _origin_bars(ax, h: History) -> None:
    origins = sorted(set(h.origins) | set(h.frontier_origins))
    total_all = sum(h.origins.values()) or 1
    total_front = sum(h.frontier_origins.values()) or 1
    left = np.zeros(2)
    for o in origins:
        share = np.array([h.origins.get(o, 0) / total_all, h.frontier_origins.get(o, 0) / total_front]) * 100
        ax.barh([0, 1], share, left=left, color=origin_color(o), label=o, height=0.6)
        for i, s in enumerate(share):
            if s >= 12:
                ax.text(left[i] + s / 2, i, f"{s:.0f}%", ha="center", va="center", fontsize=7, color="white")
        left += share
    ax.set_yticks([0, 1], ["all candidates", "frontier laws"], fontsize=7)
    ax.set_xlim(0, 100)
    ax.set_xlabel("share by proposer (%)")
    ax.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=3)


# --- everything for one run -------------------------------------------------------------------------


def run_figures(run: RunReport) -> dict[str, Figure]:
    """The run's figures by name (frontier, fit, residuals, history), those the content allows."""
    figs = {"frontier": frontier_plot(run)}
    if run.fit is not None:
        figs["fit"] = fit_plot(run.fit)
        figs["residuals"] = residual_plot(run.fit)
    if len(run.history.ids):
        figs["history"] = history_plot(run.history)
    return figs


def run_images(run: RunReport, fmt: str = "svg") -> dict[str, bytes]:
    return {name: to_bytes(fig, fmt) for name, fig in run_figures(run).items()}
