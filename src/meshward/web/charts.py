"""The risk trend as an SVG line chart, computed on the server (no chart library, no script)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from meshward.services.views import TrendDay

WIDTH = 640
HEIGHT = 220
PAD_L, PAD_R, PAD_T, PAD_B = 44, 12, 12, 30
SERIES = ("critical", "high", "medium", "low")


@dataclass
class Series:
    name: str
    points: str
    """``x,y x,y ...`` for a polyline."""
    dots: list[tuple[float, float, int, str]]
    """(x, y, value, day) for each point: a dot with a tooltip."""


@dataclass
class Tick:
    pos: float
    label: str


@dataclass
class Chart:
    width: int
    height: int
    series: list[Series]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    plot_bottom: float
    plot_left: float
    plot_right: float


def _nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (at least 5), so
    five equal steps up to it are whole numbers."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= max(value, 5):
                return m * step
        step *= 10


def trend_chart(days: Sequence[TrendDay]) -> Chart:
    """Open findings by severity per snapshot day; one day draws as dots."""
    top = _nice_max(max((max(d.critical, d.high, d.medium, d.low) for d in days), default=0))
    plot_w = WIDTH - PAD_L - PAD_R
    plot_h = HEIGHT - PAD_T - PAD_B
    n = len(days)

    def x(i: int) -> float:
        return PAD_L + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y(v: int) -> float:
        return PAD_T + plot_h * (1 - v / top)

    series = []
    for name in SERIES:
        values = [int(getattr(d, name)) for d in days]
        series.append(
            Series(
                name,
                " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values)),
                [(x(i), y(v), v, days[i].day) for i, v in enumerate(values)],
            )
        )
    y_ticks = [Tick(y(top * k // 5), str(top * k // 5)) for k in range(6)]
    every = max(1, n // 6)
    x_ticks = [Tick(x(i), days[i].day[5:]) for i in range(0, n, every)]
    return Chart(WIDTH, HEIGHT, series, y_ticks, x_ticks, PAD_T + plot_h, PAD_L, WIDTH - PAD_R)
