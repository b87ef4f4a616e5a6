"""Plots as PNG bytes (matplotlib, Agg backend): lines over batch size, margins, the timeline,
the cost–interactivity frontier."""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.money.margin import gross_margin
from harness.report.document import Figure

DPI = 96

MAX_LINES = 8
"""Lines drawn per panel at most: more are unreadable, and legend layout grows with each one."""
LEGEND_POINTS = 9
"""Legend text size: readable in a forwarded page at 100 % zoom."""
DIRECT_LABELS_FROM = 3
"""More lines than this in a panel: each is also named at its last point, and drawn with its
own marker and dash, so lines of similar colour stay apart."""
MARKERS = ("o", "s", "^", "D", "v", "P")
LINESTYLES = ("-", "--", ":")

MAX_POINTS = 400
"""Points drawn per line at most (evenly spread, the last kept): a 100,000-row run still draws
in a second."""


def _thin(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    step = -(-len(xs) // MAX_POINTS)
    if step <= 1:
        return list(xs), list(ys)
    keep = [*range(0, len(xs), step)]
    if keep[-1] != len(xs) - 1:
        keep.append(len(xs) - 1)
    return [xs[i] for i in keep], [ys[i] for i in keep]


def capped_caption(caption: str, drawn: int, total: int, what: str) -> str:
    """The caption, saying so when only some of the lines are drawn."""
    if drawn >= total:
        return caption
    return f"{caption} (drawn: the {drawn} {what} of {total}; every one is in the tables)"


@dataclass(frozen=True)
class Series:
    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    style: str = "-o"


@dataclass(frozen=True)
class Panel:
    title: str
    ylabel: str
    series: tuple[Series, ...]
    xlabel: str = "batch size"
    log_y: bool = False


def _new_figure(width: float, height: float) -> Any:
    """A bare matplotlib Figure drawn by Agg: no pyplot, so no backend choice, no figure
    manager to close, and a tenth of a second less to import."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


@dataclass(frozen=True)
class Frame:
    """A fixed layout in inches: computing it beats a tight layout's extra draw pass, and the
    legend's room below the axes is set aside, so a legend never covers a line."""

    panel_w: float
    axes_h: float
    left: float = 0.85
    right: float = 0.2
    gap: float = 0.95
    top: float = 0.35
    bottom: float = 0.6
    legend_h: float = 0.0

    def figure(self, panels: int) -> tuple[Any, Any]:
        width = self.panel_w * panels
        height = self.top + self.axes_h + self.bottom + self.legend_h
        fig = _new_figure(width, height)
        axes = fig.subplots(1, panels, squeeze=False)
        axes_w = (width - self.left - self.right - self.gap * (panels - 1)) / panels
        fig.subplots_adjust(
            left=self.left / width,
            right=1 - self.right / width,
            top=1 - self.top / height,
            bottom=(self.bottom + self.legend_h) / height,
            wspace=self.gap / axes_w,
        )
        return fig, axes

    def below_axes(self) -> float:
        """Where a legend under the axes starts, in axes fractions (below the x label)."""
        return -(self.bottom - 0.05) / self.axes_h

    def legend_below(self, ax: Any) -> None:
        """The panel's legend in the room set aside under its axes."""
        ax.legend(
            fontsize=7,
            loc="upper left",
            bbox_to_anchor=(0.0, self.below_axes()),
            borderaxespad=0.0,
            frameon=False,
        )


def _tick_text(value: float, _pos: Any = None) -> str:
    return f"{value:.2g}"


def _log_axis(axis: Any, low: float, high: float) -> None:
    """Log ticks that never crowd: only decades over a wide range, 1-2-5 over a narrow one
    (matplotlib would label every minor tick there, and the labels overlap)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    decades = math.log10(high / low) if low > 0 and high > low else 0.0
    if decades >= 2.0:
        subs: tuple[float, ...] = (1.0,)
    elif decades >= 0.6:
        subs = (1.0, 2.0, 5.0)
    else:
        subs = tuple(float(k) for k in range(1, 10))
    axis.set_major_locator(LogLocator(base=10, subs=subs, numticks=7))
    axis.set_major_formatter(FuncFormatter(_tick_text))
    axis.set_minor_formatter(NullFormatter())
    axis.set_minor_locator(NullLocator())  # unlabelled minor ticks cost a draw pass each


def _batch_axis(ax: Any, xs: Sequence[float]) -> None:
    if xs and min(xs) > 0 and max(xs) / min(xs) >= 4:
        ax.set_xscale("log", base=2)
    ticks = sorted(set(xs))
    if ticks and len(ticks) <= 12:
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks])


def _apart(end_ys: list[float], all_ys: list[float]) -> bool:
    """True when no two line ends are closer than a twelfth of the axis' range."""
    if len(end_ys) < 2 or not all_ys:
        return False
    span = max(all_ys) - min(all_ys)
    ordered = sorted(end_ys)
    return span > 0 and min(b - a for a, b in itertools.pairwise(ordered)) >= span / 12


def panels_figure(name: str, caption: str, panels: Sequence[Panel]) -> Figure:
    """Side-by-side panels of lines over batch size (one line per series).

    When every panel has the same several lines (one per instance and plan, say), one legend
    names them in room of its own (below the panels, or right of a single one), never over
    the lines.
    """
    total = max((len(p.series) for p in panels), default=0)
    panels = [Panel(p.title, p.ylabel, p.series[:MAX_LINES], p.xlabel, p.log_y) for p in panels]
    caption = capped_caption(caption, MAX_LINES, total, "first series")
    labels = [tuple(s.label for s in p.series) for p in panels]
    shared = len(labels[0]) > 1 and all(x == labels[0] for x in labels)
    beside = shared and len(panels) == 1
    if beside:
        # 9-point text is about 0.07 in a character; the handle takes 0.45 in.
        legend_w = 0.5 + 0.075 * max(len(label) for label in labels[0])
        frame = Frame(panel_w=4.6 + legend_w, axes_h=2.5, right=0.2 + legend_w)
    else:
        rows = -(-len(labels[0]) // 3) if shared else 0
        frame = Frame(panel_w=4.6, axes_h=2.5, legend_h=0.2 * rows + 0.1 * bool(rows))
    fig, axes = frame.figure(len(panels))
    for ax, panel in zip(axes[0], panels, strict=True):
        xs: list[float] = []
        ys: list[float] = []
        many = len(panel.series) > DIRECT_LABELS_FROM
        ends: list[tuple[float, float, str, str]] = []
        for n, series in enumerate(panel.series):
            x, y = _thin(series.x, series.y)
            style = series.style
            if many:
                # Many lines: each its own marker and dash as well as colour.
                style = LINESTYLES[n % len(LINESTYLES)] + MARKERS[n % len(MARKERS)]
            (line,) = ax.plot(x, y, style, label=series.label, markersize=4)
            if x:
                ends.append((x[-1], y[-1], series.label, line.get_color()))
            xs += x
            ys += y
        if many and _apart([end[1] for end in ends], ys):
            # Named at their ends too, where the ends are far enough apart to be read.
            for x_end, y_end, label, color in ends:
                ax.annotate(label, (x_end, y_end), xytext=(4, 0), textcoords="offset points",
                            fontsize=7, va="center", color=color)  # fmt: skip
        if panel.xlabel == "batch size":
            _batch_axis(ax, xs)
        positive = [v for v in ys if v > 0]
        if panel.log_y and positive:
            ax.set_yscale("log")
            _log_axis(ax.yaxis, min(positive), max(positive))
        else:
            ax.locator_params(axis="y", nbins=5)
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        ax.grid(True, alpha=0.3)
        if not shared and len(panel.series) > 1:
            ax.legend(fontsize=LEGEND_POINTS, loc="best")
    if beside:
        axes[0, 0].legend(
            loc="upper left",
            bbox_to_anchor=(1.03, 1.0),
            borderaxespad=0.0,
            fontsize=LEGEND_POINTS,
            frameon=False,
        )
    elif shared:
        handles, names = axes[0, 0].get_legend_handles_labels()
        fig.legend(
            handles,
            names,
            loc="lower center",
            bbox_to_anchor=(0.5, 0.02),
            ncol=3,
            fontsize=LEGEND_POINTS,
            frameon=False,
        )
    return Figure(name, caption, _png(fig))


@dataclass(frozen=True)
class MarginCurve:
    label: str
    cost_per_display_unit_usd: float


@dataclass(frozen=True)
class MarginPanel:
    title: str
    unit_label: str
    curves: tuple[MarginCurve, ...]
    candidate_prices: tuple[tuple[str, float], ...]
    """(label, price per display unit) lines to mark."""


def margin_figure(name: str, caption: str, panels: Sequence[MarginPanel]) -> Figure:
    """Gross margin against candidate price, break-even (margin 0 at price = cost) marked."""
    import numpy as np

    total = max((len(p.curves) for p in panels), default=0)
    panels = [
        MarginPanel(
            p.title,
            p.unit_label,
            p.curves
            if len(p.curves) <= MAX_LINES
            else tuple(sorted(p.curves, key=lambda c: c.cost_per_display_unit_usd)[:MAX_LINES]),
            p.candidate_prices,
        )
        for p in panels
    ]
    caption = capped_caption(caption, MAX_LINES, total, "cheapest")
    lines = max((len(p.curves) for p in panels), default=0)
    frame = Frame(panel_w=4.8, axes_h=2.6, legend_h=0.16 * lines)
    fig, axes = frame.figure(len(panels))
    for ax, panel in zip(axes[0], panels, strict=True):
        costs = [
            c.cost_per_display_unit_usd for c in panel.curves if c.cost_per_display_unit_usd > 0
        ]
        if not costs:
            continue
        low = min(costs) * 0.5
        high = max([*costs, *(p for _, p in panel.candidate_prices)]) * 2.0
        prices = np.geomspace(low, high, 200)
        for curve in panel.curves:
            cost = curve.cost_per_display_unit_usd
            (line,) = ax.plot(prices, gross_margin(prices, cost), label=curve.label)
            ax.plot([cost], [0.0], "o", color=line.get_color())
        for label, price in panel.candidate_prices:
            ax.axvline(price, color="0.3", linestyle="--", linewidth=1)
            ax.annotate(label, (price, 0.95), fontsize=7, rotation=90, va="top", ha="right")
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_ylim(-1.0, 1.0)
        ax.set_xscale("log")
        ax.set_xlim(low, high)
        _log_axis(ax.xaxis, low, high)
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(f"price, USD per {panel.unit_label}")
        ax.set_ylabel("gross margin (dots: break-even)")
        ax.grid(True, alpha=0.3)
        frame.legend_below(ax)
    return Figure(name, caption, _png(fig))


TIMELINE_PANELS = (
    ("power_w", "power (W)"),
    ("gpu_util_pct", "GPU utilisation (%)"),
    ("sm_clock_mhz", "SM clock (MHz)"),
)


def timeline_figure(name: str, caption: str, samples: Any) -> Figure:
    """Power, utilisation and clock over the run (each reading held until the next sample);
    spans where the GPU throttled are shaded, and each workload × batch size is labelled."""
    present = [(c, label) for c, label in TIMELINE_PANELS if samples[c].notna().any()]
    height = 1.9 * len(present) + 0.8
    fig = _new_figure(9.5, height)
    axes = fig.subplots(len(present), 1, sharex=True, squeeze=False)
    fig.subplots_adjust(
        left=0.85 / 9.5, right=1 - 0.2 / 9.5, top=1 - 0.35 / height, bottom=0.55 / height
    )
    t = samples["t_s"].to_numpy(dtype=float)
    spans = throttled_spans(t, samples["throttled"].tolist())
    stages = _stages(t, samples)
    for ax, (column, label) in zip(axes[:, 0], present, strict=True):
        ax.step(t, samples[column].to_numpy(dtype=float), where="post", linewidth=1)
        for start, end in spans:
            ax.axvspan(start, end, color="tab:red", alpha=0.2, linewidth=0)
        for start, _ in stages[1:]:
            ax.axvline(start, color="0.5", linestyle=":", linewidth=0.8)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(True, alpha=0.3)
    top = axes[0, 0]
    for start, text in stages:
        top.annotate(text, (start, 1.02), xycoords=("data", "axes fraction"), fontsize=7)
    axes[-1, 0].set_xlabel(
        "time since the run started (s)" + ("; shaded: throttled" if spans else "")
    )
    return Figure(name, caption, _png(fig))


def _stages(t: Sequence[float], samples: Any) -> list[tuple[float, str]]:
    """(start time, "workload bs N") where the sampled workload or batch size changes."""
    if "workload" not in samples or "batch_size" not in samples:
        return []
    stages: list[tuple[float, str]] = []
    last = None
    for time_s, workload, batch in zip(
        t, samples["workload"].tolist(), samples["batch_size"].tolist(), strict=True
    ):
        key = (workload, batch)
        if key != last and workload == workload:  # NaN workload: between measurements
            batch_text = (
                f" bs {batch:g}" if isinstance(batch, (int, float)) and batch == batch else ""
            )
            stages.append((time_s, f"{workload}{batch_text}"))
        last = key
    return stages if len(stages) <= 24 else []


def throttled_spans(t: Sequence[float], throttled: Sequence[Any]) -> list[tuple[float, float]]:
    """Contiguous (start, end) times where samples say throttled; a span runs to the next sample."""
    spans: list[tuple[float, float]] = []
    start = None
    for i, flag in enumerate(throttled):
        on = _truthy(flag)
        if on and start is None:
            start = t[i]
        if not on and start is not None:
            spans.append((start, t[i]))
            start = None
    if start is not None:
        spans.append((start, t[-1]))
    return spans


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    try:
        return bool(value) and value == value  # NaN is not a throttled sample
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class FrontierPanel:
    """Cost (y) against one interactivity axis (x): a line per curve, the Pareto points marked."""

    title: str
    xlabel: str
    ylabel: str
    series: tuple[Series, ...]
    pareto: tuple[tuple[float, float], ...]
    """(x, y) of the Pareto-optimal points, cheapest first."""


def frontier_figure(name: str, caption: str, panels: Sequence[FrontierPanel]) -> Figure:
    """Cost–interactivity panels side by side: one line per instance/plan (the cheapest
    MAX_LINES), the Pareto points ringed and joined by a dashed black line, log cost axis."""
    total = max((len(p.series) for p in panels), default=0)
    caption = capped_caption(caption, MAX_LINES, total, "cheapest lines")
    lines = min(total, MAX_LINES)
    frame = Frame(panel_w=4.8, axes_h=2.6, legend_h=0.16 * (lines + 1))
    fig, axes = frame.figure(len(panels))
    for ax, panel in zip(axes[0], panels, strict=True):
        xs: list[float] = []
        ys: list[float] = []
        for series in panel.series[:MAX_LINES]:
            x, y = _thin(series.x, series.y)
            ax.plot(x, y, series.style, label=series.label, markersize=4, linewidth=1)
            xs += x
            ys += y
        if panel.pareto:
            px = [p[0] for p in panel.pareto]
            py = [p[1] for p in panel.pareto]
            order = sorted(range(len(px)), key=lambda i: px[i])
            ax.plot([px[i] for i in order], [py[i] for i in order], "--", color="black",
                    linewidth=0.8)  # fmt: skip
            ax.plot(px, py, "o", markersize=9, markerfacecolor="none", markeredgecolor="black",
                    markeredgewidth=1.2, label="Pareto-optimal")  # fmt: skip
            xs += px
            ys += py
        positive_x = [v for v in xs if v > 0]
        if positive_x and max(positive_x) / min(positive_x) >= 10:
            from matplotlib.ticker import FuncFormatter

            ax.set_xscale("log")
            _log_axis(ax.xaxis, min(positive_x), max(positive_x))
            # Interactivity reads better as 100 and 200 than as 1e+02 and 2e+02.
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        positive = [v for v in ys if v > 0]
        if positive:
            ax.set_yscale("log")
            _log_axis(ax.yaxis, min(positive), max(positive))
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        ax.grid(True, alpha=0.3)
        frame.legend_below(ax)
    return Figure(name, caption, _png(fig))
