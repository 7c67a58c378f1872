"""chain outbox: what the coordinator owes the chain (epoch seals), written with them

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_outbox",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("posted_ms", sa.BigInteger(), nullable=True),
        sa.Column("tx", sa.String(length=80), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_chain_outbox_waiting", "chain_outbox", ["posted_ms", "created_ms"])


def downgrade() -> None:
    op.drop_index("ix_chain_outbox_waiting", table_name="chain_outbox")
    op.drop_table("chain_outbox")
