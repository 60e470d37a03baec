"""The sweep's HTML report: one self-contained page (inline CSS, no scripts, no network)."""

from __future__ import annotations

from importlib import resources
from typing import Any

import jinja2

from mixstack.sweep._summary import FAILURE_KINDS

__all__ = ["render_report"]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _color(value: float | None) -> str:
    """Red (0%) through amber to green (100%)."""
    if value is None:
        return "#eef1f6"
    return f"hsl({round(120 * value)}, 62%, 72%)"


def render_report(report: dict[str, Any]) -> str:
    source = resources.files("mixstack.sweep").joinpath("report.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(source)
    return template.render(r=report, pct=_pct, color=_color, kinds=FAILURE_KINDS)
