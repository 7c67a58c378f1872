"""missed seats by panel: the lease query asks, per validation job, whether the worker
(or a key of its owner) missed a seat on that panel

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_missed_seats_panel", "missed_seats", ["checked_job_id", "worker_id"])


def downgrade() -> None:
    op.drop_index("ix_missed_seats_panel", table_name="missed_seats")
