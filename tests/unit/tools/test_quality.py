"""The quality bench's text comparison, on small synthetic inputs."""

from __future__ import annotations

import math

import pytest

from swarmgen.tools import quality


def test_text_quality_counts_agreement_kl_and_exact_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    row = {"top": [1, 2, 3, 4, 5], "lp": [math.log(0.5), *[math.log(0.1)] * 4], "best": 1}
    moved = {**row, "lp": [math.log(0.1)] * 4 + [math.log(0.5)], "best": 5}
    monkeypatch.setattr(quality, "_text_caught", lambda *args: 0.0)  # no claims here
    fp32 = {"outputs": {"forced": [[row, row], [row]], "answers": [[1, 2], [7]]}}
    assert quality._text_quality(fp32, fp32) == {
        "top1_agreement": 1.0,
        "kl_top5": 0.0,
        "exact_match": 1.0,
        "detected_as_fp32_greedy": 0.0,
        "detected_as_fp32_sampled": 0.0,
    }
    tier = {"outputs": {"forced": [[row, moved], [row]], "answers": [[1, 3], [7]]}}
    figures = quality._text_quality(tier, fp32)
    assert figures["top1_agreement"] == pytest.approx(2 / 3) and figures["exact_match"] == 0.5
    p, q = [0.5, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.5]
    kl = sum((a / 0.9) * math.log(a / b) for a, b in zip(p, q, strict=True))
    assert figures["kl_top5"] == pytest.approx(kl / 3)
    # a saved fp32 run with more questions than the tier answered is compared on the first
    fewer = {"outputs": {"forced": [[row, moved]], "answers": [[1, 3]]}}
    assert quality._text_quality(fewer, fp32)["exact_match"] == 0.0
