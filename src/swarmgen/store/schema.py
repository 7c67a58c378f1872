"""Tables. Alembic migrations under ``migrations/`` create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from swarmgen.store.records import SYSTEM_USER

__all__ = ["SYSTEM_USER", "metadata"]

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger),
)

workers = Table(
    "workers",
    metadata,
    Column("id", String(64), primary_key=True),  # Ed25519 public key, base64url
    Column("owner_id", String(32), ForeignKey("users.id")),
    Column("name", String(64), nullable=False),
    Column("capabilities", JSON, nullable=False),
    Column("registered_ms", BigInteger, nullable=False),
    Column("last_seen_ms", BigInteger, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("offering", String(80), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("input_digest", String(64), nullable=False),
    Column("pixels", Integer, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("lease_ttl_s", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("worker_id", String(64)),
    Column("lease_expires_ms", BigInteger),
    Column("attempts", Integer, nullable=False),
    Column("outputs", JSON),  # list of blob keys
    Column("output_digest", String(64)),
    Column("receipt", JSON),
    Column("timings", JSON),
    Column("error", Text),
    Column("payment", String(16)),  # reserved|pending|paid|refunded|forfeited
    # verification: a validation job names the job it re-executes and who may not run it
    Column("validates", String(32)),
    Column("exclude_worker", String(64)),
    Column("exclude_owner", String(32)),
    Column("sampling_id", String(32)),  # text: seeds sampling; validation jobs copy it
    Column("leased_ms", BigInteger),  # when the current lease began (hard maximum, speed)
    Column("assigned_worker", String(64)),  # a drawn validation seat: only this worker leases it
    Column("assigned_ms", BigInteger),  # when it was drawn: it must take the seat in time
    # an original job: the sampling rate its draw used, and the epoch of the draw
    Column("sample_rate", Float),
    Column("sample_epoch", Integer),
    # the job's place in the change feed: set by the database at commit, in commit order,
    # by the triggers of migration 0006 (see docs/decisions/0017); null until then
    Column("change_seq", BigInteger),
    # the job's place in the queue, set at insert (core.scheduling.queue_key; migration
    # 0010 filled it for older rows): a lease walks ix_jobs_queue in this order
    Column("queue_key", BigInteger),
    Index("ix_jobs_queue", "state", "offering", "queue_key", "created_ms", "id"),
    # the seats drawn for one worker, which only it may lease
    Index("ix_jobs_seats", "assigned_worker", "state"),
    Index("ix_jobs_user", "user_id", "created_ms"),
    Index("ix_jobs_lease", "state", "lease_expires_ms"),
    # the reaper expires jobs queued too long (migration 0011): a range on this, not a scan
    Index("ix_jobs_age", "state", "created_ms"),
    Index("ix_jobs_validates", "validates"),
    Index("ix_jobs_sample", "sample_epoch", "offering"),
    Index("ix_jobs_changes", "user_id", "change_seq"),
    # a submit counts the user's active jobs: this walks those alone (at most the
    # active-job cap), not every job the user ever had
    Index("ix_jobs_user_state", "user_id", "state"),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
"""Named counters; ``job_changes`` numbers the jobs' changes in commit order,
``queue_aging`` is the aging the jobs' ``queue_key`` were made with (migration 0010)."""

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id"), primary_key=True),
    Column("key", String(255), primary_key=True),  # the client's Idempotency-Key header
    Column("fingerprint", String(64), nullable=False),  # sha256 of the request it named
    Column("job_ids", JSON, nullable=False),  # the jobs that request queued, in order
    Column("created_ms", BigInteger, nullable=False, index=True),
)

nonces = Table(
    "nonces",
    metadata,
    Column("worker_id", String(64), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("seen_ms", BigInteger, nullable=False, index=True),
)

# ledger ---------------------------------------------------------------------------

ACCOUNT = 220  # "kind:" plus an id of at most 200 characters

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("epoch", Integer, nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    Column("debit", String(ACCOUNT), nullable=False, index=True),
    Column("credit", String(ACCOUNT), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("job_id", String(200), index=True),
    Column("memo", JSON, nullable=False),
    Column("receipt", JSON),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("created_ms", BigInteger, nullable=False),
)

ledger_journal = Table(
    "ledger_journal",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("kind", String(24), nullable=False),
    Column("debit", String(ACCOUNT), nullable=False),
    Column("credit", String(ACCOUNT), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("job_id", String(200)),
    Column("memo", JSON, nullable=False),
    Column("receipt", JSON),
    Column("created_ms", BigInteger, nullable=False),
)
"""Job money posted under the ledger lock held shared, in the order it moved balances,
until the lock's next exclusive holder chains it (:mod:`swarmgen.store.journal`)."""

balances = Table(
    "balances",
    metadata,
    Column("account", String(ACCOUNT), primary_key=True),
    Column("amount", BigInteger, nullable=False),
)

epochs = Table(
    "epochs",
    metadata,
    Column("epoch", Integer, primary_key=True, autoincrement=False),
    Column("opened_ms", BigInteger, nullable=False),
    Column("closed_ms", BigInteger),
    Column("seal", JSON),  # the signed EpochSeal once closed
)

verdicts = Table(
    "verdicts",
    metadata,
    Column("epoch", Integer, primary_key=True, autoincrement=False),
    Column("worker_id", String(64), primary_key=True),
    Column("invalid", Boolean, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("recorded_ms", BigInteger, nullable=False),
)

# verification -----------------------------------------------------------------------

sampling_seeds = Table(
    "sampling_seeds",
    metadata,
    Column("epoch", Integer, primary_key=True, autoincrement=False),
    Column("seed", String(64), nullable=False),  # hex; secret until the epoch closes
    Column("commitment", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

checks = Table(
    "checks",
    metadata,
    Column("job_id", String(32), primary_key=True),  # the checked (original) job
    Column("worker_id", String(64), nullable=False),  # the claimant
    Column("offering", String(80), nullable=False),
    Column("epoch", Integer, nullable=False),  # epoch of the draw
    Column("status", String(16), nullable=False),  # pending|upheld|rejected|abandoned
    Column("decided_epoch", Integer),
    Column("reason", Text),
    Column("opened_ms", BigInteger, nullable=False),
    Column("decided_ms", BigInteger),
    Index("ix_checks_status", "status"),
    Index("ix_checks_decided", "decided_epoch"),
)

ballots = Table(
    "ballots",
    metadata,
    Column("job_id", String(32), primary_key=True),  # the checked job
    Column("validator_id", String(64), primary_key=True),
    Column("validation_job_id", String(32), nullable=False),
    Column("position", Integer, nullable=False),  # arrival order on the panel
    Column("vote", String(16), nullable=False),  # agree|disagree|absent|claim_invalid
    Column("reason", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("distance", Float),
    Column("epoch", Integer, nullable=False),  # epoch the ballot was cast in
    Column("penalised", Boolean, nullable=False),
    Column("recorded_ms", BigInteger, nullable=False),
    Index("ix_ballots_epoch", "epoch"),
)

reputations = Table(
    "reputations",
    metadata,
    Column("worker_id", String(64), primary_key=True),
    Column("reputation", Float, nullable=False),
    Column("clean_epochs", Integer, nullable=False),
    Column("updated_epoch", Integer, nullable=False),
)

missed_seats = Table(
    "missed_seats",
    metadata,
    Column("job_id", String(32), primary_key=True),  # the validation job whose lease expired
    Column("worker_id", String(64), primary_key=True),  # who let it expire
    Column("checked_job_id", String(32), nullable=False),  # the job the seat was checking
    Column("epoch", Integer, nullable=False),
    Column("recorded_ms", BigInteger, nullable=False),
    Index("ix_missed_seats_worker", "worker_id", "epoch"),
    # the lease query's "missed a seat on this panel" test, per validation job
    Index("ix_missed_seats_panel", "checked_job_id", "worker_id"),
)

# the chain outbox --------------------------------------------------------------------

chain_outbox = Table(
    "chain_outbox",
    metadata,
    Column("key", String(64), primary_key=True),  # seal:<epoch>
    Column("kind", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("posted_ms", BigInteger),  # null while it waits
    Column("tx", String(80)),
    Column("last_error", Text),
    Index("ix_chain_outbox_waiting", "posted_ms", "created_ms"),
)
