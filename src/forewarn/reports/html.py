"""A report as one printable HTML page, its charts drawn on the server as inline SVG.

The page needs nothing else: no script, no font, no library, so it prints the same from a
browser, opens from a file on a machine cut off from the internet, and is served under a
Content-Security-Policy that allows only its own stylesheet (:data:`STYLE_HASH`) and
nothing to run. Each section is a heading, its chart (horizontal bars, one group per row,
the 90 % line dashed) and its table; a section starts on a new printed page when it does not
fit on the current one.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from forewarn.reports.shapes import Cell, Chart, Column, Report, Section, Text

__all__ = ["CONTENT_SECURITY_POLICY", "STYLE_HASH", "format_cell", "render_html"]

_STYLE = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:24px;color:#1f1f1f}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid #2f5597}
.meta{color:#595959;font-size:13px;margin:0 0 12px}
table{border-collapse:collapse;font-size:12px;width:100%;margin:6px 0 10px}
th,td{border:1px solid #a6a6a6;padding:3px 6px}th{background:#dce6f1;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}td.below{color:#c00000;font-weight:600}
.note{color:#595959;font-size:12px;font-style:italic}svg{max-width:100%;height:auto}
section{break-inside:avoid-page}@media print{body{margin:0}h2{break-after:avoid}}
@page{size:A4 landscape;margin:12mm}
"""
#: the CSP hash of the page's one stylesheet, so that nothing else may style or run on it
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (f"default-src 'none'; style-src '{STYLE_HASH}'; img-src data:; "
                           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

_COLORS = ("#2f5597", "#70ad47", "#ed7d31", "#7f7f7f", "#ffc000")
_LABELS = {"period": Text("统计周期", "Period"), "generated": Text("生成时间", "Generated"),
           "target": Text("考核线", "Target")}
_BAR, _GAP, _LEFT, _WIDTH, _MAX_ROWS = 12, 8, 180, 820, 40


def format_cell(column: Column, value: Cell, lang: str) -> str:
    """A cell as a reader sees it: a rate as 95.3%, minutes with one decimal, no data as a dash."""
    if value is None:
        return "—"
    if column.kind == "text" or isinstance(value, str):
        return str(value)
    if column.kind == "rate":
        return f"{value * 100:.1f}%"
    if column.kind == "int":
        return f"{int(value):,}"
    if column.kind in ("minutes", "hours"):
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def render_html(report: Report, lang: str = "zh") -> str:
    """The whole page (``lang`` zh or en)."""
    title = escape(report.title.pick(lang))
    parts = [
        f'<!doctype html><html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f'<p class="meta">{escape(report.subject.name)} · {escape(_LABELS["period"].pick(lang))} '
        f'{escape(report.period)} · {escape(_LABELS["generated"].pick(lang))} {escape(report.generated)}</p>',
    ]
    for section in report.sections:
        parts.append(_section(section, lang))
    parts.append("</body></html>")
    return "".join(parts)


def _section(section: Section, lang: str) -> str:
    out = [f'<section id="{escape(section.key)}"><h2>{escape(section.title.pick(lang))}</h2>']
    if section.chart is not None and section.rows[section.chart.skip:]:
        out.append(_svg(section, section.chart, lang))
    head = "".join(f"<th>{escape(c.title.pick(lang))}</th>" for c in section.columns)
    body = []
    for row in section.rows:
        cells = []
        for column, value in zip(section.columns, row, strict=True):
            classes = [] if column.kind == "text" else ["n"]
            if (column.target is not None and isinstance(value, int | float) and not isinstance(value, bool)
                    and value < column.target):
                classes.append("below")
            cls = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{cls}>{escape(format_cell(column, value, lang))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    if section.note is not None:
        out.append(f'<p class="note">{escape(section.note.pick(lang))}</p>')
    out.append("</section>")
    return "".join(out)


def _svg(section: Section, chart: Chart, lang: str) -> str:
    """Horizontal bars: one group per row (the first rows when there are very many), a series
    per value column, scaled to 0..1 for rates and to the largest value otherwise."""
    keys = [c.key for c in section.columns]
    label_at = keys.index(chart.label)
    series = [(section.columns[keys.index(k)], keys.index(k)) for k in chart.values]
    rows = section.rows[chart.skip:chart.skip + _MAX_ROWS]
    rates = all(c.kind == "rate" for c, _ in series)
    numbers = [row[i] for row in rows for _, i in series if isinstance(row[i], int | float)]
    top = 1.0 if rates else max([float(v) for v in numbers if v is not None] + [1.0])
    group = len(series) * _BAR + _GAP
    legend_h = 22
    height = legend_h + len(rows) * group + 24
    span = _WIDTH - _LEFT - 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
             f'viewBox="0 0 {_WIDTH} {height}" role="img" font-size="11" '
             f'aria-label="{escape(section.title.pick(lang))}">']
    x = _LEFT
    for n, (column, _) in enumerate(series):
        color = _COLORS[n % len(_COLORS)]
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{color}"/>'
                     f'<text x="{x + 14}" y="13">{escape(column.title.pick(lang))}</text>')
        x += 30 + 12 * len(column.title.pick(lang))
    for r, row in enumerate(rows):
        y = legend_h + r * group
        label = str(row[label_at] if row[label_at] is not None else "")
        parts.append(f'<text x="{_LEFT - 6}" y="{y + group / 2}" text-anchor="end" '
                     f'dominant-baseline="middle">{escape(label[:16])}</text>')
        for n, (column, i) in enumerate(series):
            value = row[i]
            if not isinstance(value, int | float):
                continue
            w = max(0.0, min(1.0, float(value) / top)) * span
            by = y + n * _BAR
            parts.append(f'<rect x="{_LEFT}" y="{by}" width="{w:.1f}" height="{_BAR - 2}" '
                         f'fill="{_COLORS[n % len(_COLORS)]}"/>'
                         f'<text x="{_LEFT + w + 4:.1f}" y="{by + _BAR - 3}">'
                         f'{escape(format_cell(column, value, lang))}</text>')
    axis_y = legend_h + len(rows) * group
    parts.append(f'<line x1="{_LEFT}" y1="{legend_h - 2}" x2="{_LEFT}" y2="{axis_y}" stroke="#595959"/>')
    if chart.target is not None and rates:
        tx = _LEFT + chart.target * span
        parts.append(f'<line x1="{tx:.1f}" y1="{legend_h - 2}" x2="{tx:.1f}" y2="{axis_y}" stroke="#c00000" '
                     f'stroke-dasharray="4 3"/><text x="{tx:.1f}" y="{axis_y + 14}" text-anchor="middle" '
                     f'fill="#c00000">{escape(_LABELS["target"].pick(lang))} {chart.target * 100:.0f}%</text>')
    parts.append("</svg>")
    return "".join(parts)
