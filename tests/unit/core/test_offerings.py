from __future__ import annotations

import pytest

from swarmgen.core.offerings import Offering, Precision, precisions, register_precision


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


def test_precisions_are_an_open_registered_set() -> None:
    assert [p.value for p in precisions()][:5] == ["fp32", "bf16", "fp16", "int8", "int4"]
    assert Precision("int8") is Precision.INT8 and Precision.INT8 == "int8"
    assert str(Precision.BF16) == "bf16" and f"{Precision.BF16}" == "bf16"
    with pytest.raises(ValueError, match="unknown precision"):
        Precision("nf4")
    nf4 = register_precision("nf4-test", "4-bit normal float (a test registration).")
    assert Precision("nf4-test") is nf4 and nf4.description.startswith("4-bit")
    assert Offering.parse("m@nf4-test").precision is nf4
    assert register_precision("nf4-test", "again") is nf4


def test_precision_names_are_checked() -> None:
    with pytest.raises(ValueError, match="precision name"):
        register_precision("FP8", "upper case")


def test_offerings_pickle_and_order() -> None:
    import pickle

    offering = Offering.parse("m@int8")
    assert pickle.loads(pickle.dumps(offering)).precision is Precision.INT8
    assert sorted([Offering.parse("m@int8"), Offering.parse("m@bf16")])[0].precision.value == "bf16"
