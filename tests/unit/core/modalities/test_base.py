"""Modalities are found by kind, loaded on first use, and registrable."""

from __future__ import annotations

import sys
import types

import pytest

from swarmgen.core.jobs import ImageSpec, TextSpec
from swarmgen.core.modalities import base, modality, modality_of, register_modality
from swarmgen.core.modalities.image import IMAGE
from swarmgen.core.modalities.text import TEXT
from swarmgen.core.offerings import Kind


def test_each_kind_has_its_modality() -> None:
    assert modality(Kind.IMAGE) is IMAGE and modality("text") is TEXT
    assert modality_of(ImageSpec(prompt="x")) is IMAGE
    assert modality_of(TextSpec(prompt="x")) is TEXT
    assert {m.kind for m in (IMAGE, TEXT)} == set(Kind)


def test_a_registration_replaces_the_modality_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    other = types.ModuleType("swarmgen_test_modality")
    other.RULES = object()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "swarmgen_test_modality", other)
    monkeypatch.setattr(base, "_TARGETS", dict(base._TARGETS))
    monkeypatch.setattr(base, "_LOADED", dict(base._LOADED))
    register_modality(Kind.TEXT, "swarmgen_test_modality:RULES")
    assert modality(Kind.TEXT) is other.RULES  # type: ignore[attr-defined]


def test_calibration_hooks_name_the_tools_routines() -> None:
    assert IMAGE.calibration == "swarmgen.tools.calibration:calibrate_image"
    assert TEXT.calibration == "swarmgen.tools.calibration:calibrate_text"
