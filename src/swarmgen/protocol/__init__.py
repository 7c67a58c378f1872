"""The native wire protocol: the request and response models of ``/api/v1``.

One definition shared by the coordinator's native face (which validates what arrives),
the SDK (which builds requests and reads answers) and the worker daemon. Bounds come
from :data:`swarmgen.core.jobs.LIMITS` and :mod:`swarmgen.protocol.bounds`, so each
limit is written once and a violation becomes a 422 naming the field, reason and limit.
"""

from swarmgen.protocol.bounds import INT64_MAX, LedgerSeq, MicroCredits, Millis
from swarmgen.protocol.credits import (
    BalanceOut,
    CoordinatorKeyOut,
    EntriesOut,
    EntryOut,
    GrantIn,
    StakeIn,
    StakeOut,
    TransferIn,
)
from swarmgen.protocol.errors import ErrorBody, ErrorOut, FieldProblemOut
from swarmgen.protocol.jobs import (
    ImageJobIn,
    JobAccepted,
    JobBatchAccepted,
    JobBatchIn,
    JobIn,
    JobList,
    JobView,
    MessageIn,
    QuoteOut,
    TextJobIn,
)
from swarmgen.protocol.workers import (
    Ack,
    Assignment,
    CapabilitiesIn,
    EmptyIn,
    HeartbeatIn,
    PopIn,
    PopOut,
    ReceiptIn,
    RegisterIn,
    RegisterOut,
    Rejected,
    ReleaseIn,
    ResultIn,
    SubmitIn,
    SubmitOut,
)

__all__ = [
    "INT64_MAX",
    "Ack",
    "Assignment",
    "BalanceOut",
    "CapabilitiesIn",
    "CoordinatorKeyOut",
    "EmptyIn",
    "EntriesOut",
    "EntryOut",
    "ErrorBody",
    "ErrorOut",
    "FieldProblemOut",
    "GrantIn",
    "HeartbeatIn",
    "ImageJobIn",
    "JobAccepted",
    "JobBatchAccepted",
    "JobBatchIn",
    "JobIn",
    "JobList",
    "JobView",
    "LedgerSeq",
    "MessageIn",
    "MicroCredits",
    "Millis",
    "PopIn",
    "PopOut",
    "QuoteOut",
    "ReceiptIn",
    "RegisterIn",
    "RegisterOut",
    "Rejected",
    "ReleaseIn",
    "ResultIn",
    "StakeIn",
    "StakeOut",
    "SubmitIn",
    "SubmitOut",
    "TextJobIn",
    "TransferIn",
]
