"""Every tier of a model against fp32: weight bytes, peak RSS, speed and output quality.

Each tier runs in its own process through the worker's backend factory, at the same torch
thread count; see :mod:`swarmgen.tools.measurement` for what is measured and
:mod:`swarmgen.tools.quality` for how it is compared. Images:
PSNR, SSIM, pHash distance against fp32 on held-out shapes-64 prompts (seed ``i`` for
prompt ``i``) and the shapes evaluation (main colour, background, count). Text:
top-1 agreement and mean KL over fp32's top 5, teacher-forced on fp32's greedy answers to
a fixed question set, and the share of answers identical to fp32's.

Run: ``HF_HUB_OFFLINE=1 PYTHONPATH=src .venv/bin/python bench/quality.py shapes-64
[--images 32] [--threads 1] [--plot docs/quality-shapes-64.png]`` (or
``swarmgen bench quality MODEL``). Prints a table; the last line is one JSON object.
"""

from __future__ import annotations

import sys

from swarmgen.cli.bench import bench_app

if __name__ == "__main__":
    bench_app(["quality", *sys.argv[1:]])
