"""`dihya-logs report --html FILE`: a self-contained HTML audit report of a log.

Floor 2 (console, standard library only). One file, no script, no external resource (a strict
Content-Security-Policy says so): generations and errors over time as inline SVG bars, error
rates and durations by stack and template, the latest purges and exports, the chain's status.
Everything taken from the log is HTML-escaped (a record is untrusted text).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any, Final, Optional

from dihya_logging.cli._stats import Stats

__all__ = ["render_report"]

_STYLE: Final = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d232a}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.2rem .6rem;text-align:right}
th{background:#eef1f4}td:first-child,th:first-child{text-align:left}
.figures{display:flex;gap:1rem;flex-wrap:wrap}.figure{background:#f5f7f9;padding:.7rem 1rem}
.figure b{display:block;font-size:1.4rem}.ok{color:#17702f}.bad{color:#a8201a}
svg{background:#fafbfc}rect.gen{fill:#5b8def}rect.err{fill:#d9534f}
"""


def _e(value: object) -> str:
    """Escaped text of a value (None: empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


def _rate(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.1%}"


def _ms(value: Optional[float]) -> str:
    return "" if value is None else f"{value:,.0f}"


def _chart(periods: Mapping[str, Mapping[str, Any]], by: str) -> str:
    """Generations (blue) and errors (red) per period, as SVG bars with a title each."""
    if not periods:
        return "<p>No generations.</p>"
    width, height, gap = 900, 220, 2
    slot = width / len(periods)
    top = max(row["generations"] for row in periods.values()) or 1
    bars = []
    for index, (key, row) in enumerate(periods.items()):
        x = index * slot
        for kind, count in (("gen", row["generations"]), ("err", row["errors"])):
            tall = height * count / top
            label = f"{key}: {row['generations']:,} generations, {row['errors']:,} errors"
            bars.append(
                f'<rect class="{kind}" data-period="{_e(key)}" data-count="{count}" '
                f'x="{x + gap / 2:.1f}" y="{height - tall:.1f}" width="{max(slot - gap, 1):.1f}" '
                f'height="{tall:.1f}"><title>{_e(label)}</title></rect>'
            )
    first, last = _e(next(iter(periods))), _e(list(periods)[-1])
    return (
        f'<figure id="timeline"><svg role="img" aria-label="generations and errors per {by}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">{"".join(bars)}</svg>'
        f"<figcaption>Generations (blue) and errors (red) per {_e(by)}, {first} to {last}"
        "</figcaption></figure>"
    )


def _tally_table(title: str, rows: Mapping[str, Mapping[str, Any]], anchor: str) -> str:
    body = "".join(
        f"<tr><td>{_e(key)}</td><td>{row['generations']:,}</td><td>{row['errors']:,}</td>"
        f"<td>{_rate(row['error_rate'])}</td><td>{_ms(row.get('p50_ms'))}</td>"
        f"<td>{_ms(row.get('p95_ms'))}</td></tr>"
        for key, row in rows.items()
    )
    return (
        f'<h2>{_e(title)}</h2><table id="{anchor}"><tr><th>{_e(title.split()[-1])}</th>'
        "<th>generations</th><th>errors</th><th>error rate</th><th>p50 ms</th><th>p95 ms</th>"
        f"</tr>{body}</table>"
    )


def _audit_table(events: Iterable[Mapping[str, Any]]) -> str:
    rows = []
    for event in events:
        scope = event.get("filter")
        scope_text = (
            ", ".join(f"{k}={v}" for k, v in sorted(scope.items()))
            if isinstance(scope, dict)
            else ""
        )
        rows.append(
            f"<tr><td>{_e(event.get('timestamp'))}</td><td>{_e(event.get('event'))}</td>"
            f"<td>{_e(event.get('actor'))}</td><td>{_e(event.get('mode') or event.get('format'))}"
            f"</td><td>{_e(scope_text)}</td><td>{_e(event.get('count'))}</td>"
            f"<td>{_e(event.get('destination') or event.get('error'))}</td></tr>"
        )
    if not rows:
        return "<p>No purge or export recorded.</p>"
    return (
        '<table id="audit"><tr><th>time</th><th>event</th><th>actor</th><th>mode / format</th>'
        "<th>scope</th><th>records</th><th>destination / error</th></tr>"
        + "".join(reversed(rows))
        + "</table>"
    )


def render_report(
    stats: Stats,
    audits: Iterable[Mapping[str, Any]],
    *,
    location: str,
    generated_at: str,
    chain: Optional[tuple[bool, str]],
) -> str:
    """The whole report: ``chain`` is ``(intact, summary)`` or None for an unchained log."""
    data = stats.as_dict()
    overall = data["overall"]
    if chain is None:
        chain_html = '<p id="chain">The log is not chained (no tamper evidence).</p>'
    else:
        css = "ok" if chain[0] else "bad"
        chain_html = f'<p id="chain" class="{css}">{_e(chain[1])}</p>'
    figures = [
        ("records", f"{data['records']:,}"),
        ("generations", f"{data['generations']:,}"),
        ("error rate", _rate(overall.get("error_rate"))),
        ("purges", f"{data['events'].get('purge', 0):,}"),
        ("exports", f"{data['events'].get('export', 0):,}"),
    ]
    if "p95_ms" in overall:
        figures.append(("p95 duration", f"{_ms(overall['p95_ms'])} ms"))
    figure_html = "".join(
        f'<div class="figure" data-figure="{_e(name)}">{_e(name)}<b>{_e(value)}</b></div>'
        for name, value in figures
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>Audit report: {_e(location)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Generation log audit report</h1><p>{_e(location)} · generated {_e(generated_at)}"
        f'</p><div class="figures" id="figures">{figure_html}</div>'
        f"<h2>Tamper evidence</h2>{chain_html}"
        f"<h2>Generations and errors over time</h2>{_chart(data['periods'], data['period'])}"
        + _tally_table("By stack", data["stacks"], "stacks")
        + _tally_table("By template", data["templates"], "templates")
        + f"<h2>Latest purges and exports</h2>{_audit_table(audits)}</body></html>\n"
    )
