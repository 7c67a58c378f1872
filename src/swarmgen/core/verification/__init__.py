"""Verification rules: catch workers that do not run what they claim.

- :mod:`.failures` — fail closed: ``Artifact | Failure`` in, :class:`Comparison` out.
- :mod:`.imagecheck` — image artifacts (perceptual hashes, thumbnail) and agreement.
- :mod:`.textcheck` — a text claim against a validator's blinded run: ties and top-k logprobs.
- :mod:`.calibration` — fitting thresholds from honest and cheat distances.
- :mod:`.sampling` — reputation, sampling rate, the committed per-epoch draw and its audit.
- :mod:`.escalation` — validator eligibility and the panel's stages.
- :mod:`.draw` — which eligible worker sits a seat, drawn by stake from the epoch seed.
- :mod:`.verdicts` — per-epoch binomial verdicts.
"""

from swarmgen.core.verification.calibration import (
    FittedThreshold,
    fit_threshold,
    fit_thresholds,
    rejected_share,
)
from swarmgen.core.verification.escalation import (
    Ballot,
    Decision,
    EscalationPolicy,
    Participant,
    Status,
    Vote,
    ballot_of,
    can_validate,
    decide,
    rejection_probability,
    settle_stalled,
)
from swarmgen.core.verification.failures import (
    Comparison,
    Failure,
    FailureKind,
    Outcome,
    VerificationError,
)
from swarmgen.core.verification.imagecheck import (
    ImageArtifacts,
    ImageDistance,
    ImageThresholds,
    compare_image_sets,
    compare_images,
    image_artifacts,
    image_distance,
    images_agree,
)
from swarmgen.core.verification.sampling import (
    AuditReport,
    SamplingPolicy,
    audit_sampling,
    commitment,
    must_check,
    reputation_after,
    sampling_rate,
)
from swarmgen.core.verification.textcheck import (
    TextThresholds,
    check_text,
    first_difference,
    text_distance,
    tie_gap,
)
from swarmgen.core.verification.verdicts import (
    ALPHA,
    DEFAULT_HONEST_FP,
    Verdict,
    binomial_tail,
    epoch_verdict,
)

__all__ = [
    "ALPHA",
    "DEFAULT_HONEST_FP",
    "AuditReport",
    "Ballot",
    "Comparison",
    "Decision",
    "EscalationPolicy",
    "Failure",
    "FailureKind",
    "FittedThreshold",
    "ImageArtifacts",
    "ImageDistance",
    "ImageThresholds",
    "Outcome",
    "Participant",
    "SamplingPolicy",
    "Status",
    "TextThresholds",
    "Verdict",
    "VerificationError",
    "Vote",
    "audit_sampling",
    "ballot_of",
    "binomial_tail",
    "can_validate",
    "check_text",
    "commitment",
    "compare_image_sets",
    "compare_images",
    "decide",
    "epoch_verdict",
    "first_difference",
    "fit_threshold",
    "fit_thresholds",
    "image_artifacts",
    "image_distance",
    "images_agree",
    "must_check",
    "rejected_share",
    "rejection_probability",
    "reputation_after",
    "sampling_rate",
    "settle_stalled",
    "text_distance",
    "tie_gap",
]
