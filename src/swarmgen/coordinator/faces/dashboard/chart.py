"""The throughput chart: completions per minute over the last hour, as an SVG drawn here.

Only numbers the service counted go into it, formatted by this module; no text from
a request or a worker does.
"""

from __future__ import annotations

from swarmgen.coordinator.network import Throughput

WIDTH = 600
HEIGHT = 160
LEFT = 36
BOTTOM = 20
TOP = 10


def throughput_svg(series: Throughput) -> str:
    """Bars, one per bucket (oldest left), a y axis scaled to the busiest bucket."""
    counts = series.counts
    peak = max(counts, default=0)
    scale = max(peak, 1)
    plot_w = WIDTH - LEFT - 4
    plot_h = HEIGHT - BOTTOM - TOP
    step = plot_w / max(len(counts), 1)
    minutes = len(counts) * series.bucket_s // 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" font-family="sans-serif" '
        f'font-size="11"><title>Jobs completed per {series.bucket_s} s, last '
        f"{minutes} minutes (peak {peak})</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 4}" y2="{TOP + plot_h}" '
        'stroke="#888888"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" fill="#444444">{scale}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end" fill="#444444">0</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 4}" fill="#444444">-{minutes} min</text>',
        f'<text x="{WIDTH - 4}" y="{HEIGHT - 4}" text-anchor="end" fill="#444444">now</text>',
    ]
    for i, count in enumerate(counts):
        if not count:
            continue
        h = plot_h * count / scale
        x = LEFT + i * step
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" '
            f'width="{max(step - 1, 1):.1f}" height="{h:.1f}" fill="#3b6ea5">'
            f"<title>{count}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)
