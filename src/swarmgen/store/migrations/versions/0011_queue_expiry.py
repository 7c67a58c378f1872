"""queue expiry: the reaper fails ordinary jobs queued longer than the queue's TTL, so it
finds them by state and age on an index instead of scanning the queue

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_age", "jobs", ["state", "created_ms"])


def downgrade() -> None:
    op.drop_index("ix_jobs_age", table_name="jobs")
