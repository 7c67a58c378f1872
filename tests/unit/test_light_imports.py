"""The coordinator, the CLI and the SDK start without torch, diffusers, transformers or torchao.

Nor do the coordinator and worker runtimes import the tools (calibration, the cheater
zoo, shapes-64 training): those stay outside the runtime import graph.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("torch", "diffusers", "transformers", "torchao")
TOOLS = ("swarmgen.tools",)


def loaded_after(code: str, prefixes: tuple[str, ...]) -> list[str]:
    """Modules under ``prefixes`` that a fresh interpreter holds after running ``code``."""
    report = (
        "\nimport sys\n"
        f"prefixes = {prefixes!r}\n"
        "print(','.join(sorted(m for m in sys.modules"
        " if any(m == p or m.startswith(p + '.') for p in prefixes))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code + report], capture_output=True, text=True, check=True
    )
    return [m for m in out.stdout.strip().split(",") if m]


def test_coordinator_and_cli_import_no_heavy_library() -> None:
    code = (
        "import swarmgen.coordinator.app, swarmgen.cli.main, swarmgen.sdk, swarmgen.worker.daemon"
    )
    assert loaded_after(code, HEAVY) == []


def test_runtime_imports_no_tools() -> None:
    code = (
        "import swarmgen.coordinator.app, swarmgen.cli.main, swarmgen.worker.daemon,"
        " swarmgen.worker.factory, swarmgen.worker.settings, swarmgen.backends.factory"
    )
    assert loaded_after(code, TOOLS) == []


def test_a_worker_building_its_backends_imports_no_tools_and_no_torch(tmp_path: Path) -> None:
    code = (
        "from swarmgen.worker.factory import build_backends\n"
        "from swarmgen.worker.settings import WorkerSettings\n"
        "build_backends(WorkerSettings("
        f"models=['echo-image@fp32', 'echo-text@fp32'], data={str(tmp_path)!r}))"
    )
    assert loaded_after(code, TOOLS + HEAVY) == []


def test_a_worker_loading_the_modalities_loads_no_comparison() -> None:
    code = (
        "import swarmgen.worker.daemon\n"
        "from swarmgen.core.modalities import modality\n"
        "modality('image'), modality('text')"
    )
    assert loaded_after(code, ("imagehash", "swarmgen.core.verification")) == []


def test_a_coordinator_on_files_loads_no_s3_client(tmp_path: Path) -> None:
    code = (
        "from swarmgen.coordinator.bootstrap import open_blobs\n"
        "from swarmgen.coordinator.settings import CoordinatorSettings\n"
        f"open_blobs(CoordinatorSettings(data={str(tmp_path)!r}))"
    )
    assert loaded_after(code, ("boto3", "botocore")) == []
