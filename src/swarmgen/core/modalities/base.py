"""What a modality is, and the registry that finds one by kind.

A modality (image, text) bundles every rule that differs by what a job produces: how
a spec is built from the wire fields and checked against a model, what it weighs for
price and lease, how a worker's output is decoded and stored, how two outputs are
compared and with which thresholds, and which tool calibrates them. Callers ask
:func:`modality` (or :func:`modality_of` a spec) instead of branching on the kind.

Modalities register by import path and load on first use, so the core modules they
build on (pricing, scheduling, verification) can look one up without an import cycle.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from swarmgen.core.offerings import Kind

if TYPE_CHECKING:
    from swarmgen.core.jobs import Spec
    from swarmgen.core.outputs import Output
    from swarmgen.core.pricing import Quote, Rates
    from swarmgen.core.verification.failures import Comparison, Failure
    from swarmgen.errors import FieldProblem

    Blobs: TypeAlias = Sequence[bytes] | Failure
    """A job's stored output blobs, or why they could not be read (fails closed)."""


class Thresholds(Protocol):
    """Calibrated comparison limits of one offering."""

    @property
    def false_positive_bound(self) -> float | None:
        """Upper bound on the share of honest pairs the limits reject (``None``: unmeasured)."""
        ...


class Modality(Protocol):
    """Every rule that depends on what a job produces."""

    kind: Kind
    calibration: str
    """``"module:function"`` of the tool that calibrates this modality's thresholds."""
    identical_outputs_agree: bool
    """Whether byte-identical stored outputs pass a check without being compared."""

    def spec_from_wire(self, fields: Mapping[str, Any], seed: int | None) -> Spec:
        """The spec of a validated request body (its fields as plain data), with ``seed``."""
        ...

    def model_problem(self, spec: Spec, offering: str, max_pixels: int) -> FieldProblem | None:
        """Why ``offering`` (allowing ``max_pixels``) cannot take ``spec``, or ``None``."""
        ...

    def pixels(self, spec: Spec) -> int:
        """Image size the worker must hold (0 when the kind has none); dispatch filters on it."""
        ...

    def needs_sampling_id(self, spec: Spec) -> bool:
        """Whether the job gets a secret sampling id at submission (blinded replay)."""
        ...

    def quote(
        self, spec: Spec, multiplier_ppm: int, rates: Rates, prompt_tokens: int | None
    ) -> Quote:
        """The price of ``spec`` at ``multiplier_ppm`` (millionths)."""
        ...

    def expected_run_s(self, spec: Spec) -> float:
        """A pessimistic CPU run time of ``spec``, which sizes its lease."""
        ...

    def decode_output(
        self, spec: Spec, images: Sequence[str] | None, text: Mapping[str, Any] | None
    ) -> Output:
        """A worker's submitted output checked against ``spec``; ``InvalidRequest`` if not."""
        ...

    def encode_output(self, output: Output) -> dict[str, Any]:
        """The wire fields a worker submits ``output`` as (what :meth:`decode_output` reads)."""
        ...

    def output_blobs(self, output: Output) -> list[bytes]:
        """The blobs an output is stored as."""
        ...

    def output_count(self, stored: int, completed: bool) -> int:
        """How many outputs a job view reports, given ``stored`` blobs."""
        ...

    def result(
        self, blobs: Callable[[int], bytes], stored: int, index: int, fmt: str
    ) -> tuple[bytes, str]:
        """The bytes and media type of result ``index`` (``fmt`` for text), read via ``blobs``."""
        ...

    def stored_result(self, stored: int, index: int, fmt: str) -> tuple[int, str] | None:
        """Which stored blob result ``index`` (``fmt``) is, byte for byte, and its media
        type; None when the result is derived from a blob (then only :meth:`result` serves
        it). A blob served as stored may be handed out as a link to the blob store."""
        ...

    def thresholds(self, stored: Mapping[str, Any]) -> Thresholds:
        """The offering's calibrated thresholds (core defaults where none are stored)."""
        ...

    def compare(
        self, spec: Spec, claimed: Blobs, reference: Blobs, thresholds: Thresholds
    ) -> Comparison:
        """Compare a claim's stored blobs with a validator's, failing closed on either side."""
        ...


_TARGETS: dict[Kind, str] = {}
_LOADED: dict[Kind, Modality] = {}


def register_modality(kind: Kind, target: str) -> None:
    """Serve ``kind`` with the modality object at ``"module:attribute"`` (loaded on use)."""
    _TARGETS[kind] = target
    _LOADED.pop(kind, None)


def modality(kind: Kind | str) -> Modality:
    """The modality of ``kind``; ``KeyError`` when none is registered."""
    key = Kind(kind)
    found = _LOADED.get(key)
    if found is None:
        module, _, attribute = _TARGETS[key].partition(":")
        found = getattr(importlib.import_module(module), attribute)
        _LOADED[key] = found
    return found


def modality_of(spec: Spec) -> Modality:
    """The modality of the job ``spec`` describes."""
    return modality(spec.kind)


register_modality(Kind.IMAGE, "swarmgen.core.modalities.image:IMAGE")
register_modality(Kind.TEXT, "swarmgen.core.modalities.text:TEXT")
