"""A PNG of training completion per module for the weekly digest: counts only, no people.
Uses matplotlib's object API with the Agg canvas (no pyplot), like the survey chart."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from people.surveys.chart import DPI, WIDTH_INCHES, literal
from people.training.assignments import CompletionReport

MAX_MODULES = 12
LABEL_CHARS = 32
BAR_HEIGHT_INCHES = 0.45


def completion_chart_png(report: CompletionReport) -> bytes | None:
    """Done, open and overdue per module as stacked bars; None when nothing is assigned."""
    modules = [m for m in report.modules if m.assigned][:MAX_MODULES]
    if not modules:
        return None
    height = max(2.5, 1.2 + BAR_HEIGHT_INCHES * len(modules))
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    labels = [literal(_short(m.title)) for m in modules]
    done = [m.done for m in modules]
    overdue = [m.overdue for m in modules]
    waiting = [m.assigned - m.done - m.overdue for m in modules]
    axes.barh(labels, done, color="#2e7d32", label="done")
    axes.barh(labels, waiting, left=done, color="#90a4ae", label="open")
    axes.barh(
        labels,
        overdue,
        left=[d + w for d, w in zip(done, waiting, strict=True)],
        color="#c62828",
        label="overdue",
    )
    axes.invert_yaxis()
    axes.set_xlabel("assignments")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_title(f"Training completion: {report.done} of {report.assigned} done")
    axes.legend(loc="lower right", fontsize="small")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _short(title: str) -> str:
    return title if len(title) <= LABEL_CHARS else title[: LABEL_CHARS - 1].rstrip() + "…"
