"""ledger: hash-chained entries, balance projection, epochs with seals, verdicts; job payment state

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "balances",
        sa.Column("account", sa.String(length=220), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account"),
    )
    op.create_table(
        "epochs",
        sa.Column("epoch", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("closed_ms", sa.BigInteger(), nullable=True),
        sa.Column("seal", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("epoch"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("debit", sa.String(length=220), nullable=False),
        sa.Column("credit", sa.String(length=220), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.String(length=200), nullable=True),
        sa.Column("memo", sa.JSON(), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("hash"),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_entries_credit"), ["credit"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_entries_debit"), ["debit"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_entries_epoch"), ["epoch"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_entries_job_id"), ["job_id"], unique=False)

    op.create_table(
        "verdicts",
        sa.Column("epoch", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("invalid", sa.Boolean(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("recorded_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("epoch", "worker_id"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("payment")

    op.drop_table("verdicts")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_job_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_epoch"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_debit"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_credit"))

    op.drop_table("ledger_entries")
    op.drop_table("epochs")
    op.drop_table("balances")
