"""Charts as inline SVG, drawn on the server: no JavaScript library, no CDN, works offline.

`line_chart` draws one line per series over shared time steps, with axis labels and a legend;
values are escaped, sizes fixed so a page renders the same everywhere.
"""

from __future__ import annotations

import datetime as dt
from html import escape

__all__ = ["PALETTE", "line_chart"]

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d")
_W, _H, _PAD_L, _PAD_B, _PAD_T, _PAD_R = 640, 200, 56, 28, 10, 10


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    if value and value < 0.01:
        return f"{value:.4f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def line_chart(title: str, steps: list[int], series: dict[str, list[float]]) -> str:
    """SVG of `series` (name -> one value per step); steps are epoch seconds."""
    if not steps or not series:
        return (
            f'<figure class="chart"><figcaption>{escape(title)}</figcaption>'
            '<p class="empty">no data in this window</p></figure>'
        )
    top = max((max(values, default=0.0) for values in series.values()), default=0.0) or 1.0
    inner_w, inner_h = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B
    span = max(1, len(steps) - 1)

    def x(i: int) -> float:
        return _PAD_L + inner_w * i / span

    def y(v: float) -> float:
        return _PAD_T + inner_h * (1 - v / top)

    parts = [
        f'<svg viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(title)}">',
        f'<line x1="{_PAD_L}" y1="{_PAD_T + inner_h}" x2="{_W - _PAD_R}" '
        f'y2="{_PAD_T + inner_h}" class="axis"/>',
        f'<text x="{_PAD_L - 6}" y="{_PAD_T + 8}" class="tick" text-anchor="end">'
        f"{_fmt(top)}</text>",
        f'<text x="{_PAD_L - 6}" y="{_PAD_T + inner_h}" class="tick" text-anchor="end">0</text>',
    ]
    for i in sorted({0, len(steps) // 2, len(steps) - 1}):
        label = dt.datetime.fromtimestamp(steps[i]).strftime("%m-%d %H:%M")
        parts.append(
            f'<text x="{x(i):.1f}" y="{_H - 8}" class="tick" text-anchor="middle">{label}</text>'
        )
    legend = []
    for n, (name, values) in enumerate(sorted(series.items())):
        color = PALETTE[n % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}">'
            f"<title>{escape(name)}</title></polyline>"
        )
        if len(values) == 1:
            parts.append(f'<circle cx="{x(0):.1f}" cy="{y(values[0]):.1f}" r="3" fill="{color}"/>')
        legend.append(f'<span><i style="background:{color}"></i>{escape(name or "-")}</span>')
    parts.append("</svg>")
    return (
        f'<figure class="chart"><figcaption>{escape(title)}</figcaption>{"".join(parts)}'
        f'<div class="legend">{"".join(legend)}</div></figure>'
    )
