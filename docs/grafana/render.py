#!/usr/bin/env python3
"""Renders convene-dashboard.json's own panels from a Prometheus server,
outside Grafana, into one HTML page of SVG charts (for a screenshot when
Grafana cannot be installed; see README.md here).

    python3 docs/grafana/render.py http://127.0.0.1:9090 MINUTES [END] > dashboard.html

Each panel's queries are sent as written in the dashboard to Prometheus's
/api/v1/query_range, with the dashboard's variables replaced as Grafana
would ($instance: every node, $__rate_interval: 1m), over the MINUTES
minutes before END (a Unix time; default now: give it to draw a run that
has ended, without its idle tail); each series is drawn as a line, named
by the panel's legendFormat.
Panels are placed on the dashboard's own 24-column grid (gridPos).
"""

import html
import json
import re
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

COLORS = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2",
          "#b877d9", "#fade2a", "#37872d", "#e0e0e0", "#c4162a", "#1f60c4"]
CELL_W, CELL_H = 58, 34  # pixels per grid column and row


def query(server, expr, start, end, step):
    expr = expr.replace('$instance', '.*').replace('$__rate_interval', '1m')
    args = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{server}/api/v1/query_range?{args}") as r:
        return json.load(r)["data"]["result"]


def legend(fmt, labels):
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt) or str(labels)


def fmt_value(v, unit):
    if unit == "s":
        return f"{v * 1000:.3g} ms" if v < 1 else f"{v:.3g} s"
    return f"{v:.3g}" + ("/s" if unit == "reqps" else "")


def chart(panel, series, start, end, w, h):
    pad_l, pad_r, pad_t, pad_b = 52, 8, 8, 18
    lines = [(name, [(t, v) for t, v in pts if v == v and abs(v) != float("inf")]) for name, pts in series]
    values = [v for _, pts in lines for _, v in pts]
    top = max(values + [0]) * 1.1 or 1
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
    x = lambda t: pad_l + (t - start) / (end - start) * (w - pad_l - pad_r)
    y = lambda v: pad_t + (1 - v / top) * (h - pad_t - pad_b)
    out = [f'<svg width="{w}" height="{h}">']
    for i in range(5):
        v = top * i / 4
        out.append(f'<line x1="{pad_l}" x2="{w - pad_r}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
                   f'<text x="{pad_l - 4}" y="{y(v) + 4:.1f}" class="axis" text-anchor="end">{fmt_value(v, unit)}</text>')
    for i in range(0, 7):
        t = start + (end - start) * i / 6
        out.append(f'<text x="{x(t):.1f}" y="{h - 4}" class="axis" text-anchor="middle">'
                   f'{time.strftime("%H:%M", time.localtime(t))}</text>')
    for n, (_, pts) in enumerate(lines):
        if pts:
            d = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
            out.append(f'<polyline points="{d}" fill="none" stroke="{COLORS[n % len(COLORS)]}" stroke-width="1.5"/>')
    out.append("</svg>")
    # Each name with its last value, as a Grafana legend's "Last" column.
    keys = "".join(f'<span><i style="background:{COLORS[n % len(COLORS)]}"></i>{html.escape(name)}'
                   f' <b>{fmt_value(pts[-1][1], unit) if pts else "-"}</b></span>'
                   for n, (name, pts) in enumerate(lines))
    return "".join(out) + f'<div class="legend">{keys or "No data"}</div>'


def main():
    server, minutes = sys.argv[1].rstrip("/"), float(sys.argv[2])
    dashboard = json.loads((Path(__file__).parent / "convene-dashboard.json").read_text())
    end = float(sys.argv[3]) if len(sys.argv) > 3 else time.time()
    start = end - minutes * 60
    step = max(5, int(minutes * 60 / 240))
    boxes = []
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        style = f'left:{g["x"] * CELL_W}px;top:{g["y"] * CELL_H}px;width:{g["w"] * CELL_W - 8}px'
        if panel["type"] == "row":
            boxes.append(f'<div class="row" style="{style}">{html.escape(panel["title"])}</div>')
            continue
        w, h = g["w"] * CELL_W - 8, g["h"] * CELL_H - 8
        series = []
        for target in panel["targets"]:
            for s in query(server, target["expr"], start, end, step):
                name = legend(target.get("legendFormat", ""), s["metric"])
                series.append((name, [(float(t), float(v)) for t, v in s["values"]]))
        series.sort()
        # Room for the legend below the chart, about three names a line.
        legend_lines = max(1, -(-len(series) // max(1, g["w"] // 3)))
        body = chart(panel, series, start, end, w - 16, h - 40 - 16 * legend_lines)
        boxes.append(f'<div class="panel" style="{style};height:{h}px"><h3>{html.escape(panel["title"])}</h3>{body}</div>')
    height = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dashboard["panels"]) * CELL_H
    print(f"""<!doctype html><meta charset="utf-8"><title>{html.escape(dashboard["title"])}</title>
<style>
body {{ background:#111217; color:#ccccdc; font:12px Inter, Helvetica, Arial, sans-serif; margin:0; }}
header {{ padding:10px 12px; font-size:16px; }} header small {{ color:#8e8e9e; font-size:12px; margin-left:12px; }}
main {{ position:relative; height:{height}px; margin:0 8px; }}
.panel {{ position:absolute; background:#181b1f; border:1px solid #2c3235; border-radius:2px; padding:4px 8px; overflow:hidden; }}
.row {{ position:absolute; font-size:14px; font-weight:500; padding-top:8px; }}
h3 {{ font-size:13px; font-weight:500; margin:2px 0 4px; }}
.grid {{ stroke:#2c3235; }} .axis {{ fill:#8e8e9e; font-size:10px; }}
.legend span {{ margin-right:10px; white-space:nowrap; display:inline-block; font-size:11px; }}
.legend b {{ font-weight:500; color:#e6e6f0; }}
.legend i {{ display:inline-block; width:12px; height:3px; margin-right:4px; vertical-align:middle; }}
</style>
<header>{html.escape(dashboard["title"])} <small>the dashboard's queries, rendered from Prometheus outside Grafana; {minutes:g} minutes to {time.strftime("%Y-%m-%d %H:%M", time.localtime(end))}</small></header>
<main>{"".join(boxes)}</main>""")


if __name__ == "__main__":
    main()
