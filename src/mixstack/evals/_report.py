"""The HTML report: one self-contained file (inline CSS, JS and SVG; nothing fetched to view it).

Summary table, accuracy with 95% intervals, cost against accuracy, latency spread, the paired
comparisons, the reasoning audit when there is one, and a filterable per-case table with every
model's answer side by side (the first `MAX_CASES` case × variant rows).
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from mixstack.evals._results import iter_results
from mixstack.evals._runs import RunDir
from mixstack.evals._stats import percentile

__all__ = ["MAX_CASES", "render_report", "write_report"]

MAX_CASES = 2000
_COLORS = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d")


def _label(run: dict[str, Any]) -> str:
    return f"{run['model']} · {run['variant']}"


def _accuracy_svg(runs: list[dict[str, Any]]) -> str:
    row, left, width = 30, 260, 420
    height = row * len(runs) + 40
    out = [f'<svg viewBox="0 0 {left + width + 60} {height}" role="img" class="chart">']
    for pct in (0, 25, 50, 75, 100):
        x = left + width * pct / 100
        out.append(
            f'<line x1="{x}" y1="10" x2="{x}" y2="{height - 25}" class="grid"/>'
            f'<text x="{x}" y="{height - 8}" class="tick" text-anchor="middle">{pct}%</text>'
        )
    for i, r in enumerate(runs):
        y = 20 + i * row
        color = _COLORS[i % len(_COLORS)]
        out.append(
            f'<text x="{left - 8}" y="{y + 5}" text-anchor="end" class="lbl">'
            f"{html.escape(_label(r))}</text>"
        )
        if r["pass_rate"] is None:
            out.append(f'<text x="{left + 4}" y="{y + 5}" class="tick">no scored cases</text>')
            continue
        w = width * r["pass_rate"]
        lo, hi = left + width * r["ci_low"], left + width * r["ci_high"]
        out.append(
            f'<rect x="{left}" y="{y - 8}" width="{w:.1f}" height="16" fill="{color}" '
            f'opacity="0.75"><title>{100 * r["pass_rate"]:.1f}% (95% CI '
            f"{100 * r['ci_low']:.1f}–{100 * r['ci_high']:.1f}%)</title></rect>"
            f'<line x1="{lo:.1f}" y1="{y}" x2="{hi:.1f}" y2="{y}" class="ci"/>'
            f'<line x1="{lo:.1f}" y1="{y - 6}" x2="{lo:.1f}" y2="{y + 6}" class="ci"/>'
            f'<line x1="{hi:.1f}" y1="{y - 6}" x2="{hi:.1f}" y2="{y + 6}" class="ci"/>'
            f'<text x="{left + width + 8}" y="{y + 5}" class="tick">'
            f"{100 * r['pass_rate']:.0f}%</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _scatter_svg(runs: list[dict[str, Any]]) -> str:
    w, h, pad = 520, 300, 50
    costs = [(r["cost_usd"] / max(1, r["n"] + r["errors"])) for r in runs]
    top = max(costs) if costs and max(costs) > 0 else 0.0
    axis = f"cost per case (USD, up to {top:.2g})" if top else "cost per case (USD; all free)"
    top = top or 1.0
    out = [f'<svg viewBox="0 0 {w + 200} {h + pad}" role="img" class="chart">']
    out.append(
        f'<line x1="{pad}" y1="{h}" x2="{w}" y2="{h}" class="axis"/>'
        f'<line x1="{pad}" y1="10" x2="{pad}" y2="{h}" class="axis"/>'
        f'<text x="{(pad + w) / 2}" y="{h + 35}" text-anchor="middle" class="tick">'
        f"{axis}</text>"
        f'<text x="12" y="{h / 2}" class="tick" transform="rotate(-90 12 {h / 2})" '
        f'text-anchor="middle">pass rate</text>'
    )
    for pct in (0, 50, 100):
        y = h - (h - 10) * pct / 100
        out.append(f'<text x="{pad - 6}" y="{y + 4}" text-anchor="end" class="tick">{pct}%</text>')
    for i, (r, cost) in enumerate(zip(runs, costs, strict=True)):
        if r["pass_rate"] is None:
            continue
        x = pad + (w - pad - 20) * (cost / top) + 10
        y = h - (h - 10) * r["pass_rate"]
        color = _COLORS[i % len(_COLORS)]
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{color}" opacity="0.8">'
            f"<title>{html.escape(_label(r))}: {100 * r['pass_rate']:.1f}%, "
            f"${cost:.6f}/case</title></circle>"
            f'<text x="{x + 10:.1f}" y="{y + 4:.1f}" class="lbl">{html.escape(_label(r))}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _log_ticks(lo: float, hi: float) -> list[float]:
    ticks = []
    for exp in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for mult in (1, 2, 5):
            value = mult * 10.0**exp
            if lo <= value <= hi:
                ticks.append(value)
    return ticks


def _latency_svg(runs: list[dict[str, Any]], latencies: dict[tuple[str, str], list[float]]) -> str:
    row, left, width = 30, 260, 420
    values = [v for r in runs for v in latencies.get((r["model"], r["variant"]), []) if v > 0]
    if not values:
        return "<p>No latencies recorded.</p>"
    lo, hi = min(values) / 1.5, max(values) * 1.5
    span = math.log10(hi) - math.log10(lo)
    height = row * len(runs) + 40

    def x(v: float) -> float:
        return left + width * (math.log10(max(v, lo)) - math.log10(lo)) / span

    out = [f'<svg viewBox="0 0 {left + width + 190} {height}" role="img" class="chart">']
    for tick in _log_ticks(lo, hi):
        out.append(
            f'<line x1="{x(tick):.1f}" y1="10" x2="{x(tick):.1f}" y2="{height - 25}" '
            f'class="grid"/><text x="{x(tick):.1f}" y="{height - 8}" class="tick" '
            f'text-anchor="middle">{tick:g} ms</text>'
        )
    for i, r in enumerate(runs):
        y = 20 + i * row
        color = _COLORS[i % len(_COLORS)]
        data = sorted(latencies.get((r["model"], r["variant"]), []))
        out.append(
            f'<text x="{left - 8}" y="{y + 5}" text-anchor="end" class="lbl">'
            f"{html.escape(_label(r))}</text>"
        )
        if not data:
            continue
        q = {p: percentile(data, p) or 0.0 for p in (0, 25, 50, 75, 95, 100)}
        out.append(
            f'<line x1="{x(q[0]):.1f}" y1="{y}" x2="{x(q[100]):.1f}" y2="{y}" stroke="{color}"/>'
            f'<rect x="{x(q[25]):.1f}" y="{y - 8}" width="{max(1.0, x(q[75]) - x(q[25])):.1f}" '
            f'height="16" fill="{color}" opacity="0.35"/>'
            f'<line x1="{x(q[50]):.1f}" y1="{y - 9}" x2="{x(q[50]):.1f}" y2="{y + 9}" '
            f'stroke="{color}" stroke-width="3"/>'
            f'<circle cx="{x(q[95]):.1f}" cy="{y}" r="3" fill="{color}"/>'
            f'<text x="{left + width + 8}" y="{y + 5}" class="tick">p50 {q[50]:.0f} · '
            f"p95 {q[95]:.0f} ms</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _case_rows(
    path: Path, models: list[str]
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], list[float]], int]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    latencies: dict[tuple[str, str], list[float]] = defaultdict(list)
    total: set[tuple[str, str]] = set()
    for r in iter_results(path):
        key = (str(r["case"]), str(r["variant"]))
        total.add(key)
        if r["status"] != "error" and r.get("latency_ms") is not None:
            latencies[(r["model"], r["variant"])].append(float(r["latency_ms"]))
        if key not in rows and len(rows) >= MAX_CASES:
            continue
        row = rows.setdefault(key, {"case": key[0], "variant": key[1], "answers": {}})
        row["expected"] = r.get("expected")
        detail = "; ".join(
            s.get("detail") or s.get("error") or "" for s in r.get("scores") or [] if s
        )
        row["answers"][r["model"]] = {
            "status": r["status"],
            "output": r.get("output") or r.get("error") or "",
            "detail": detail if r["status"] != "error" else (r.get("error") or ""),
            "cached": r.get("cached"),
            "audit": (r.get("extra") or {}).get("audit", {}).get("verdict"),
        }
    out = []
    for row in rows.values():
        statuses = {a["status"] for a in row["answers"].values()}
        row["tags"] = " ".join(
            sorted(
                {f"s-{s}" for s in statuses}
                | ({"disagree"} if len(statuses - {"error"}) > 1 else set())
            )
        )
        row["cells"] = [row["answers"].get(m) for m in models]
        out.append(row)
    return out, latencies, len(total)


def render_report(run: RunDir, summary: dict[str, Any]) -> str:
    runs = summary["runs"]
    models = list(dict.fromkeys(r["model"] for r in runs)) or list(summary.get("models", []))
    rows, latencies, total = _case_rows(run.results, models)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    source = resources.files("mixstack.evals").joinpath("report.html.j2").read_text("utf-8")
    return env.from_string(source).render(
        s=summary,
        runs=runs,
        models=models,
        rows=rows,
        total_rows=total,
        max_rows=MAX_CASES,
        accuracy_svg=_accuracy_svg(runs),
        scatter_svg=_scatter_svg(runs),
        latency_svg=_latency_svg(runs, latencies),
        audit=summary.get("audit"),
    )


def write_report(run: RunDir, summary: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(run, summary), encoding="utf-8")
    return path
