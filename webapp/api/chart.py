"""The dashboard's chart: daily rebate (bars, left axis) and volume (bars, right axis) as a
server-rendered SVG from pygal, in the reader's language and the page's theme.

The chart is a picture of the figures the dashboard lists in words; it is never the place a
number is read from (pygal takes floats), so nothing here rounds money anyone is paid."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pygal
from babel.dates import format_date
from babel.numbers import format_compact_decimal, format_decimal
from pygal.style import Style

from services.dashboard import DayPoint
from services.i18n import Translator

THEMES = ("light", "dark")
# Text colours close to Telegram's own defaults for each scheme; the background stays
# transparent so the page's theme colour shows through.
_INK = {"light": ("#000000", "#707579", "#e6e6e6"), "dark": ("#f5f5f5", "#aaaaaa", "#2b3640")}
_SERIES = {"light": ("#2481cc", "#a7c7e7"), "dark": ("#5eb5f7", "#3a5a78")}
MAX_X_LABELS = 8


def _style(theme: str) -> Style:
    strong, subtle, grid = _INK[theme]
    return Style(background="transparent", plot_background="transparent",
                 foreground=strong, foreground_strong=strong, foreground_subtle=grid,
                 colors=_SERIES[theme], font_family="system-ui, -apple-system, sans-serif",
                 label_font_size=11, major_label_font_size=11, legend_font_size=12,
                 value_font_size=11, title_font_size=13, guide_stroke_color=subtle)


def render_chart(days: Sequence[DayPoint], t: Translator, locale: str, theme: str) -> bytes:
    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}")

    def as_money(value: float | None) -> str:
        """Axis labels and tooltips, short: "458.3K", "12.35" (the page lists exact figures)."""
        if value is None:
            return ""
        if abs(value) >= 1000:
            return str(format_compact_decimal(value, format_type="short", locale=locale,
                                              fraction_digits=1))
        return str(format_decimal(round(value, 2), format="#,##0.##", locale=locale))

    chart = pygal.Bar(
        style=_style(theme), js=[], width=720, height=320, legend_at_bottom=True,
        legend_at_bottom_columns=2, show_minor_x_labels=False, x_label_rotation=0,
        x_labels_major_every=max(1, math.ceil(len(days) / MAX_X_LABELS)),
        truncate_label=-1, value_formatter=as_money, no_data_text=t("api.chart.empty"),
        margin=8, spacing=12, disable_xml_declaration=True, y_labels_major_count=5,
        show_minor_y_labels=False)
    chart.x_labels = [format_date(point.day, format="d MMM", locale=locale) for point in days]
    if any(point.rebate or point.volume for point in days):
        chart.add(t("api.chart.rebate"), [float(point.rebate) for point in days])
        chart.add(t("api.chart.volume"), [float(point.volume) for point in days],
                  secondary=True)
    svg = chart.render()
    return svg if isinstance(svg, bytes) else svg.encode()
