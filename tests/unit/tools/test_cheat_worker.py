"""The cheating worker tool: options become worker settings, the wrapper picks by kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmgen.backends.echo import EchoBackend
from swarmgen.core.offerings import Offering
from swarmgen.registry import load_registry
from swarmgen.tools.cheat_worker import _parser, cheating, settings_from
from swarmgen.tools.cheats import Cheat, CheatingBackend
from swarmgen.worker.factory import build_backends, build_worker
from swarmgen.worker.settings import WorkerSettings

IMAGE = Offering.parse("echo-image@fp32")
TEXT = Offering.parse("echo-text@fp32")


def test_the_wrapper_wraps_only_backends_the_cheat_applies_to(tmp_path: Path) -> None:
    settings = WorkerSettings(data=tmp_path, models=[str(IMAGE), str(TEXT)])
    wrap = cheating(Cheat.NOISE, 0.5, settings)
    backends = wrap(build_backends(settings), load_registry())
    image = backends[IMAGE]
    assert isinstance(image, CheatingBackend) and image.rate == 0.5
    assert isinstance(backends[TEXT], EchoBackend)


def test_build_worker_applies_the_wrapper(tmp_path: Path) -> None:
    settings = WorkerSettings(data=tmp_path, models=[str(IMAGE)])
    worker = build_worker(settings, wrap=cheating(Cheat.NOISE, 1.0, settings))
    assert isinstance(worker.backends[IMAGE], CheatingBackend)
    assert isinstance(build_worker(settings).backends[IMAGE], EchoBackend)


def test_options_become_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWARMGEN_API_KEY", "owner-key")
    args = _parser().parse_args(
        ["--cheat", "noise", "--model", str(IMAGE), "--data", str(tmp_path), "--max-batch", "2"]
    )
    settings = settings_from(args)
    assert args.cheat == "noise" and args.cheat_rate == 1.0
    assert settings.models == [str(IMAGE)] and settings.max_batch == 2
    assert settings.owner_key == "owner-key" and settings.data == tmp_path


def test_an_unknown_cheat_is_refused() -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["--cheat", "bribe", "--model", str(IMAGE)])
