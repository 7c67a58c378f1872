"""The dashboard's formatting, its chart and its templates, without an app."""

from __future__ import annotations

import re
from pathlib import Path

from swarmgen.coordinator.faces import dashboard
from swarmgen.coordinator.faces.dashboard.chart import throughput_svg
from swarmgen.coordinator.faces.dashboard.rendering import Renderer, credits, short, when
from swarmgen.coordinator.network import Throughput
from swarmgen.coordinator.settings import CoordinatorSettings


def test_credits_are_six_decimal_places_of_integer_micro_credits() -> None:
    assert credits(0) == "0.000000"
    assert credits(1_234_567) == "1.234567"
    assert credits(-5) == "-0.000005"
    assert credits(12_000_000_000) == "12,000.000000"


def test_times_and_ids() -> None:
    assert when(0) == "never" and when(None) == "never"
    assert when(1_700_000_000_000) == "2023-11-14 22:13:20 UTC"
    assert short("a" * 13) == "a" * 13 and short("a" * 14) == "a" * 12 + "…"


def test_chart_draws_one_bar_per_busy_bucket_scaled_to_the_peak() -> None:
    svg = throughput_svg(Throughput(0, 60, (0, 2, 0, 4)))
    heights = [float(h) for h in re.findall(r'class="bar"[^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 2 and heights[1] == 2 * heights[0]
    assert "peak 4" in svg and "-4 min" in svg
    empty = throughput_svg(Throughput(0, 60, (0,) * 60))
    assert 'class="bar"' not in empty and "-60 min" in empty


def test_every_template_escapes_and_none_has_an_inline_script(tmp_path: Path) -> None:
    renderer = Renderer(
        Path(dashboard.__file__).parent / "templates", "/s", CoordinatorSettings(data=tmp_path)
    )
    assert renderer.env.autoescape is True
    for template in (Path(dashboard.__file__).parent / "templates").glob("*.html"):
        text = template.read_text()
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"<[^>]+\son[a-z]+=", text), f"inline handler in {template.name}"
    page = renderer.error(404, "<b>title</b>", ["<i>problem</i>"])
    body = bytes(page.body).decode()
    assert "&lt;b&gt;title&lt;/b&gt;" in body and "&lt;i&gt;problem&lt;/i&gt;" in body
    assert (
        page.status_code == 404
        and "frame-ancestors 'none'" in page.headers["content-security-policy"]
    )
