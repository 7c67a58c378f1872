"""leases and seats: lease start times, drawn validation seats, missed seats

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leased_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("assigned_worker", sa.String(length=64), nullable=True))
    # A lease held when this revision runs started at most one TTL before it expires.
    op.execute(
        sa.text(
            "UPDATE jobs SET leased_ms = lease_expires_ms - lease_ttl_s * 1000 "
            "WHERE state = 'leased' AND lease_expires_ms IS NOT NULL"
        )
    )
    op.create_table(
        "missed_seats",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("checked_job_id", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("recorded_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "worker_id"),
    )
    op.create_index("ix_missed_seats_worker", "missed_seats", ["worker_id", "epoch"])


def downgrade() -> None:
    op.drop_index("ix_missed_seats_worker", table_name="missed_seats")
    op.drop_table("missed_seats")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("assigned_worker")
        batch_op.drop_column("leased_ms")
