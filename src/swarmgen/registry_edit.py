"""Rewrite one model's tables in a registry TOML file, keeping everything else as it was.

The registry is edited by hand, so a tool that stores calibrated thresholds must not
reformat it or drop its comments. :func:`set_thresholds` finds the lines that belong to
one model (its ``[models.NAME]`` table and every ``[models.NAME.…]`` sub-table), writes
that model back in a plain form with the new thresholds, and leaves all other lines
byte for byte. Comments inside the rewritten model's own tables are not kept. The result
is parsed again and compared with what was meant before anything is written.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from swarmgen.core.offerings import Offering
from swarmgen.errors import SwarmgenError

_HEADER = re.compile(r"^\s*\[(?!\[)(?P<key>[^\]]+)\]\s*(#.*)?$")
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


class RegistryEditError(SwarmgenError):
    """The registry file cannot be edited safely (unknown model, unusual layout)."""

    code = "registry_edit_error"


def shipped_registry() -> Path:
    """The registry file that ships in the package, which the measuring tools update."""
    return Path(__file__).resolve().parent / "models.toml"


def _key_path(text: str) -> tuple[str, ...]:
    """Split a TOML table key (``models."tiny-sd".offerings``) into its parts."""
    parts: list[str] = []
    for match in re.finditer(r'\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[^."\'\s]+)\s*(\.|$)', text):
        token = match[1]
        parts.append(json.loads(token) if token.startswith('"') else token.strip("'"))
    return tuple(parts)


def _key(name: str) -> str:
    return name if _BARE.match(name) else json.dumps(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RegistryEditError(f"cannot store {value} in the registry")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise RegistryEditError(f"cannot store a {type(value).__name__} in the registry")


SECTIONS = ("thresholds", "detection_by_tier")
"""Tables of an offering that tools write, each rendered as its own section."""


def _section(path: tuple[str, ...], table: Mapping[str, Any]) -> list[str]:
    header = ".".join(p if p.startswith('"') else _key(p) for p in path)
    return [f"[{header}]"] + [f"{_key(k)} = {_value(v)}" for k, v in table.items()]


def render_model(name: str, table: Mapping[str, Any]) -> list[str]:
    """A model's TOML lines: plain keys first, then one table per offering and its
    :data:`SECTIONS`."""
    base = ("models", json.dumps(name))
    plain = {k: v for k, v in table.items() if k != "offerings"}
    lines = _section(base, plain)
    for precision, offering in table.get("offerings", {}).items():
        fields = {k: v for k, v in offering.items() if k not in SECTIONS}
        lines += ["", *_section((*base, "offerings", precision), fields)]
        for key in SECTIONS:
            if key in offering:
                path = (*base, "offerings", precision, key)
                lines += ["", *_section(path, offering[key])]
    return lines


def _model_spans(lines: list[str], name: str) -> list[tuple[int, int]]:
    """Line ranges ``[start, end)`` of the model's tables, trailing blanks and comments excluded."""
    headers = [
        (i, _key_path(m["key"])) for i, line in enumerate(lines) if (m := _HEADER.match(line))
    ]
    spans: list[tuple[int, int]] = []
    for position, (start, path) in enumerate(headers):
        if path[:2] != ("models", name):
            continue
        end = headers[position + 1][0] if position + 1 < len(headers) else len(lines)
        while end > start + 1 and (
            not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")
        ):
            end -= 1
        gap = lines[spans[-1][1] : start] if spans else ["x"]
        if all(not line.strip() for line in gap):
            spans.append((spans.pop()[0], end))  # only blank lines between: one span
        else:
            spans.append((start, end))
    return spans


def set_thresholds(path: Path, offering: Offering, thresholds: Mapping[str, Any]) -> None:
    """Store ``thresholds`` under ``[models.NAME.offerings.PRECISION.thresholds]`` in ``path``."""
    _set_section(path, offering, "thresholds", thresholds)


def set_detection_by_tier(path: Path, offering: Offering, table: Mapping[str, Any]) -> None:
    """Store measured detection of lower tiers under
    ``[models.NAME.offerings.PRECISION.detection_by_tier]`` (the thresholds are untouched)."""
    _set_section(path, offering, "detection_by_tier", table)


def set_tier_figures(
    path: Path, offering: Offering, footprint: int, quality: Mapping[str, float] | None
) -> None:
    """Store a tier's measured ``footprint`` (peak RSS, bytes) and its ``quality`` against
    fp32 (none for fp32 itself)."""
    values: dict[str, Any] = {"footprint": footprint}
    if quality is not None:
        values["quality"] = dict(quality)
    _update(path, offering, values)


def _set_section(path: Path, offering: Offering, key: str, table: Mapping[str, Any]) -> None:
    _update(path, offering, {key: dict(table)})


def _update(path: Path, offering: Offering, values: Mapping[str, Any]) -> None:
    text = path.read_text("utf-8")
    data = tomllib.loads(text)
    model = data.get("models", {}).get(offering.name)
    if model is None:
        raise RegistryEditError(f"{path} has no model {offering.name!r}")
    offerings = model.get("offerings", {})
    if offering.precision.value not in offerings:
        raise RegistryEditError(f"{offering.name} is not offered at {offering.precision}")
    offerings[offering.precision.value].update(values)
    lines = text.splitlines()
    spans = _model_spans(lines, offering.name)
    if not spans:
        raise RegistryEditError(
            f"{path}: model {offering.name!r} has no [models.{offering.name}] table"
        )
    kept = [line for i, line in enumerate(lines) if not any(a <= i < b for a, b in spans)]
    insert_at = spans[0][0]  # no span precedes the first, so its index is unchanged
    new_lines = kept[:insert_at] + render_model(offering.name, model) + kept[insert_at:]
    new_text = "\n".join(new_lines) + "\n"
    if tomllib.loads(new_text) != data:
        raise RegistryEditError(f"rewriting {offering.name} in {path} would change other data")
    path.write_text(new_text, "utf-8")
