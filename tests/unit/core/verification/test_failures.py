from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.verification.failures import Failure, FailureKind, Outcome, gate

sides = st.one_of(st.builds(Failure, st.sampled_from(FailureKind)), st.just("artifact"))


@given(sides, sides)
def test_gate_passes_only_when_both_artifacts_exist(claimed: object, reference: object) -> None:
    result = gate(claimed, reference)
    if not isinstance(claimed, Failure) and not isinstance(reference, Failure):
        assert result is None
        return
    assert result is not None and not result.passed
    assert result.outcome.claim_lost == isinstance(claimed, Failure)
    assert result.outcome.validator_lost == isinstance(reference, Failure)


def test_the_reason_is_the_failure_kind() -> None:
    result = gate(Failure(FailureKind.TIMEOUT, "lease expired"), "artifact")
    assert result is not None
    assert (result.outcome, result.reason) == (Outcome.CLAIM_FAILED, "timeout")
    assert "lease expired" in result.detail
