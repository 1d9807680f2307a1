"""The /stats chart: daily trading volume (line) and our net revenue (bars) of the period, as a
PNG (Telegram shows photos, not SVG) drawn with matplotlib's object API, not pyplot: it is
called from a worker thread, and pyplot's global state is not thread-safe."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from babel.dates import format_date


def render_stats_chart(days: Sequence[tuple[date, Decimal, Decimal]], locale: str,
                       volume_label: str, revenue_label: str) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    revenue_axis = figure.add_subplot()
    positions = list(range(len(days)))
    revenue_axis.bar(positions, [float(revenue) for _, _, revenue in days], color="#9ecae1",
                     label=revenue_label)
    revenue_axis.set_ylabel(revenue_label)
    volume_axis = revenue_axis.twinx()
    volume_axis.plot(positions, [float(volume) for _, volume, _ in days], color="#2171b5",
                     linewidth=2, label=volume_label)
    volume_axis.set_ylabel(volume_label)
    step = max(1, len(days) // 8)
    revenue_axis.set_xticks(positions[::step], [format_date(day, format="d MMM", locale=locale)
                                                for day, _, _ in days[::step]])
    for axis in (revenue_axis, volume_axis):
        axis.spines["top"].set_visible(False)
    handles = [*revenue_axis.get_legend_handles_labels()[0],
               *volume_axis.get_legend_handles_labels()[0]]
    revenue_axis.legend(handles=handles, loc="upper left", frameon=False)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
