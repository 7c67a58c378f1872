"""The coordinator, the CLI and the SDK start without torch, diffusers or transformers."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "diffusers", "transformers")


def test_coordinator_and_cli_import_no_heavy_library() -> None:
    code = (
        "import sys, swarmgen.coordinator.app, swarmgen.cli.main, swarmgen.sdk\n"
        "import swarmgen.worker.daemon\n"
        f"loaded = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]\n"
        "print(','.join(loaded))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
