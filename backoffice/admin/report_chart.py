"""The orders report's chart: revenue and orders per day as two bar panels on one time axis,
drawn on the server as inline SVG (admin/orders/report_chart.html), no script.

`day_chart` turns the report's days into coordinates in the SVG's own units (a viewBox of
WIDTH × HEIGHT that the page scales to its width; on a screen too narrow for its labels to stay
readable it scrolls sideways instead, static/css/admin.css): one bar per day with orders, days without
any left empty so the chart keeps the shape of the period. Each panel's scale runs from 0 to a
round number at or above its busiest day, with a line at half of it. The chart is one image to
assistive technology (its title and description say what it shows and sum it up); the per-day
table below it holds the figures.
"""
import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.translation import ngettext

from backoffice.selectors.report import OrderReport, ReportRow
from store.money import money

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT = 92, 12  # room for the scale's labels ("$10,000.00") on the left
PANEL_HEIGHT = 96
PANELS_TOP = (26, 162)  # each panel's top edge; its heading sits just above it
AXIS_LABELS = 10  # at most this many days named under the bars


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str  # the browser's tooltip: the day and its figure


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Panel:
    heading: str
    top: int
    bottom: int
    bars: list[Bar]
    ticks: list[Tick]  # 0, half and the top of the scale
    fill: str


@dataclass(frozen=True)
class DayLabel:
    x: float
    label: str


@dataclass(frozen=True)
class DayChart:
    width: int
    height: int
    left: int
    right: int  # x of the plot's right edge
    title: str
    description: str
    panels: list[Panel]
    days: list[DayLabel]
    axis_y: int  # where the day labels sit


MONEY_STEPS = (1, 2, Decimal("2.5"), 5, 10)
COUNT_STEPS = (2, 4, 6, 10)  # even, so half of the scale is a whole number of orders too


def nice_ceiling(value: Decimal | int, steps=MONEY_STEPS) -> Decimal:
    """The smallest of `steps` × a power of ten that is at least `value` (the first step for 0 or
    less): a scale's top that reads as a round figure (437.50 → 500, 1,049.93 → 2,000; orders:
    1 → 2, 7 → 10, 35 → 40)."""
    if value <= 0:
        return Decimal(steps[0])
    power = Decimal(10) ** math.floor(math.log10(value))
    return next(power * step for step in (*steps, 10) if power * step >= value)


def _panel(heading: str, days: list[ReportRow], figure, fmt, fill: str, top: int, slot: float,
           said, steps) -> Panel:
    bottom = top + PANEL_HEIGHT
    values = [figure(day) for day in days]
    scale = nice_ceiling(max(values, default=0), steps)
    bars = []
    for n, (day, value) in enumerate(zip(days, values, strict=True)):
        if value <= 0:
            continue
        height = max(float(value / scale) * PANEL_HEIGHT, 1.0)  # a tiny day still shows
        bars.append(Bar(x=round(LEFT + n * slot + slot * 0.15, 2), y=round(bottom - height, 2),
                        width=round(max(slot * 0.7, 1.0), 2), height=round(height, 2),
                        title=f"{day.key:%Y-%m-%d}: {said(value)}"))
    ticks = [Tick(y=bottom - PANEL_HEIGHT * share, label=fmt(scale * Decimal(share)))
             for share in (0, 0.5, 1)]
    return Panel(heading=heading, top=top, bottom=bottom, bars=bars, ticks=ticks, fill=fill)


def _count(value: Decimal | int) -> str:
    return f"{Decimal(value):,.0f}"


def _orders(count: int) -> str:
    return ngettext("%(count)d order", "%(count)d orders", count) % {"count": count}


def _day(day: date) -> str:
    return f"{day:%b} {day.day}"


def day_chart(report: OrderReport) -> DayChart:
    """The chart of `report.days` (see the module's docstring); every figure comes from the report."""
    days = report.days
    slot = (WIDTH - LEFT - RIGHT) / len(days)
    revenue = _panel("Revenue per day", days, lambda day: day.revenue, money, "#2f6f8f", PANELS_TOP[0], slot,
                     lambda value: f"{money(value)} revenue", MONEY_STEPS)
    orders = _panel("Orders placed per day", days, lambda day: day.orders, _count, "#7a4fa0", PANELS_TOP[1],
                    slot, _orders, COUNT_STEPS)
    step = math.ceil(len(days) / AXIS_LABELS)
    labels = [DayLabel(x=round(LEFT + n * slot + slot / 2, 2), label=_day(day.key))
              for n, day in enumerate(days) if n % step == 0]
    period = f"{report.date_from:%Y-%m-%d} to {report.date_to:%Y-%m-%d}"
    busiest = max(days, key=lambda day: (day.orders, day.revenue))
    quiet = sum(1 for day in days if not day.orders)
    bars = ngettext("A bar for the %(count)d day from %(period)s", "Bars for each of the %(count)d days from %(period)s",
                    len(days)) % {"count": len(days), "period": period}
    description = (
        f"{bars}: revenue above, orders placed below. "
        f"In all {_orders(report.total.orders)} and {money(report.total.revenue)} revenue. "
        f"Busiest day: {busiest.key:%Y-%m-%d}, {_orders(busiest.orders)} and {money(busiest.revenue)}. "
        + ngettext("%(count)d day without orders. ", "%(count)d days without orders. ", quiet) % {"count": quiet}
        + "The table below gives each day's figures."
    )
    return DayChart(width=WIDTH, height=HEIGHT, left=LEFT, right=WIDTH - RIGHT,
                    title=f"Revenue and orders per day, {period}", description=description,
                    panels=[revenue, orders], days=labels, axis_y=PANELS_TOP[1] + PANEL_HEIGHT + 20)
