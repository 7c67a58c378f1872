from __future__ import annotations

import pytest

from swarmgen.core.offerings import Offering, Precision


def test_parse_and_print() -> None:
    offering = Offering.parse("smollm2-135m@bf16")
    assert offering == Offering("smollm2-135m", Precision.BF16)
    assert str(offering) == "smollm2-135m@bf16"


@pytest.mark.parametrize(
    ("text", "reason"),
    [("smollm2", "name@precision"), ("Big@fp32", "name must"), ("x@fp8", "precision must")],
)
def test_parse_errors_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Offering.parse(text)
