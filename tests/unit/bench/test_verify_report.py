"""The image bench's account of misses on blank canvases."""

from __future__ import annotations

import io
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from tests.unit.bench.bench_module import load


@pytest.fixture(scope="module")
def verify() -> ModuleType:
    return load("verify")


def output(pixels: np.ndarray) -> SimpleNamespace:
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return SimpleNamespace(images=(buffer.getvalue(),))


def part(verify: ModuleType, **fields: object) -> object:
    """A bench part result with neutral timings and no failures, changed by ``fields``."""
    defaults: dict[str, object] = {
        "honest_fp": 0.0,
        "reasons": {},
        "claim_s": 0.1,
        "validate_s": 0.1,
        "calibrated_fp_bound": None,
    }
    return verify.PartResult(**{**defaults, **fields})


def test_a_flat_canvas_is_blank_and_a_drawn_shape_is_not(verify: ModuleType) -> None:
    canvas = np.full((64, 64, 3), 17)
    canvas[0, 0] = 18  # rounding noise
    assert verify.is_blank(output(canvas))
    canvas[20:28, 20:28] = (120, 0, 120)  # a small purple square
    assert not verify.is_blank(output(canvas))


def test_detection_where_drawn_leaves_out_only_the_misses_on_blank_jobs(
    verify: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    image = part(
        verify,
        offering="shapes-64@fp32",
        checks=100,
        honest_fp_bound=0.03,
        detection={"wrong-seed": 0.95, "noise": 1.0},
        blank_jobs=4,
        missed_on_blank={"wrong-seed": 3, "noise": 0},
    )
    summary: dict[str, object] = {}
    verify._image_notes(image, summary)
    # 5 misses, 3 of them on the 4 blank jobs: 2 missed among the 96 drawn ones.
    assert summary["detection_where_drawn"] == {"wrong-seed": 1 - 2 / 96, "noise": 1.0}
    assert summary["min_detection_where_drawn"] == 1 - 2 / 96
    assert summary["blank_jobs"] == 4
    out = capsys.readouterr().out
    assert "4 of 100 jobs" in out
    assert "colluding" not in out  # wrong seed did not run: nothing to say about validators


def test_a_run_of_cheats_without_a_target_still_ends_with_its_json_line(
    verify: ModuleType,
) -> None:
    text = part(
        verify,
        offering="smollm2-135m@fp32",
        checks=10,
        honest_fp_bound=0.26,
        detection={"int8": 1.0, "bf16": 0.9},
    )
    summary = {"text": {"share": 0.005}}
    closing = verify.final({"text": text}, summary, SimpleNamespace(), 1.0)
    assert closing["min_detection"] is None
    assert closing["honest_fp"] == 0.0 and closing["verify_compute_share"] == 0.005
