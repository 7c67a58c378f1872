"""verification: validation jobs, sampling seeds, checks, ballots, reputations; system user

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SYSTEM_USER = "system"


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("validates", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("exclude_worker", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("exclude_owner", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("score_tokens", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("sample_rate", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("sample_epoch", sa.Integer(), nullable=True))
        batch_op.create_index("ix_jobs_validates", ["validates"], unique=False)
        batch_op.create_index("ix_jobs_sample", ["sample_epoch", "offering"], unique=False)

    op.create_table(
        "sampling_seeds",
        sa.Column("epoch", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("commitment", sa.String(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("epoch"),
    )
    op.create_table(
        "checks",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("offering", sa.String(length=80), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_epoch", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("decided_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("job_id"),
    )
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.create_index("ix_checks_status", ["status"], unique=False)
        batch_op.create_index("ix_checks_decided", ["decided_epoch"], unique=False)
    op.create_table(
        "ballots",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("validator_id", sa.String(length=64), nullable=False),
        sa.Column("validation_job_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("vote", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("distance", sa.Float(), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("penalised", sa.Boolean(), nullable=False),
        sa.Column("recorded_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "validator_id"),
    )
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.create_index("ix_ballots_epoch", ["epoch"], unique=False)
    op.create_table(
        "reputations",
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("reputation", sa.Float(), nullable=False),
        sa.Column("clean_epochs", sa.Integer(), nullable=False),
        sa.Column("updated_epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id"),
    )
    users = sa.table(
        "users",
        sa.column("id", sa.String),
        sa.column("name", sa.String),
        sa.column("role", sa.String),
        sa.column("created_ms", sa.BigInteger),
    )
    op.bulk_insert(
        users, [{"id": SYSTEM_USER, "name": "swarmgen-system", "role": "system", "created_ms": 0}]
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM jobs WHERE user_id = :u").bindparams(u=SYSTEM_USER))
    op.execute(sa.text("DELETE FROM users WHERE id = :u").bindparams(u=SYSTEM_USER))
    op.drop_table("reputations")
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.drop_index("ix_ballots_epoch")
    op.drop_table("ballots")
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.drop_index("ix_checks_decided")
        batch_op.drop_index("ix_checks_status")
    op.drop_table("checks")
    op.drop_table("sampling_seeds")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_sample")
        batch_op.drop_index("ix_jobs_validates")
        for column in (
            "sample_epoch",
            "sample_rate",
            "score_tokens",
            "exclude_owner",
            "exclude_worker",
            "validates",
        ):
            batch_op.drop_column(column)
