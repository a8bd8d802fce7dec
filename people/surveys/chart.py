"""A PNG of a survey's trend over its recent rounds, for the digest message.

It plots only `Digest.trend`, which already holds None for every withheld round or hidden
question, so the chart cannot show more than the digest does: those rounds are gaps. It uses
matplotlib's object API with the Agg canvas, not pyplot, so it is safe in worker threads and
leaves no global figure state behind.
"""

from __future__ import annotations

import io
import math

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from people.surveys.definitions import Question, SurveyDefinition
from people.surveys.digest import HEADLINE_KINDS, Digest

WIDTH_INCHES = 8.0
HEIGHT_INCHES = 4.5
DPI = 100
LEGEND_CHARS = 48


def trend_chart_png(digest: Digest, definition: SurveyDefinition) -> bytes | None:
    """800x450 PNG: likert averages on the left axis, eNPS on the right; None if nothing to plot."""
    points = [dict(point.values) for point in digest.trend]
    charted = {
        q.id: q
        for q in definition.questions
        if q.kind in HEADLINE_KINDS and any(q.id in values for values in points)
    }
    series = {
        question_id: [
            math.nan if (v := values.get(question_id)) is None else v for values in points
        ]
        for question_id in charted
    }
    if all(math.isnan(v) for values in series.values() for v in values):
        return None
    likert = [q.id for q in charted.values() if q.kind == "likert"]
    enps = [q.id for q in charted.values() if q.kind == "enps"]

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    left = figure.add_subplot()
    x = [point.number for point in digest.trend]
    lines: list[Line2D] = []
    if likert:
        _likert_axis(left)
        for question_id in likert:
            lines += left.plot(
                x,
                series[question_id],
                marker="o",
                color=f"C{len(lines)}",
                label=_label(charted[question_id]),
            )
    if enps:
        right = left.twinx() if likert else left
        right.set_ylim(-105, 105)
        right.set_yticks(range(-100, 101, 50))
        right.set_ylabel("eNPS")
        right.axhline(0, color="grey", linewidth=0.6, linestyle=":")
        for question_id in enps:
            lines += right.plot(
                x,
                series[question_id],
                marker="s",
                linestyle="--",
                color=f"C{len(lines)}",
                label=_label(charted[question_id]),
            )
    left.set_xticks(
        x, [f"Round {p.number}\n{p.opened_on.day} {p.opened_on:%b}" for p in digest.trend]
    )
    left.set_xlim(min(x) - 0.5, max(x) + 0.5)
    left.set_title(literal(digest.title))
    left.legend(handles=lines, loc="best", fontsize="small", framealpha=0.8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _likert_axis(axes: Axes) -> None:
    axes.set_ylim(0.8, 5.2)
    axes.set_yticks([1, 2, 3, 4, 5])
    axes.set_ylabel("Average (1-5)")
    axes.grid(axis="y", alpha=0.3)


def _label(question: Question) -> str:
    text = question.text
    short = text if len(text) <= LEGEND_CHARS else text[: LEGEND_CHARS - 1].rstrip() + "…"
    return literal(short)


def literal(text: str) -> str:
    """A `$` in a title must print as a dollar, not start matplotlib math mode."""
    return text.replace("$", r"\$")
