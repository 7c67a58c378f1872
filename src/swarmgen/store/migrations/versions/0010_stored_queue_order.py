"""stored queue order: each job keeps its place in the queue as one indexed integer,
so a lease walks an index instead of sorting the queue

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

AGING_PER_S = 100
"""The default ``aging_points_per_s`` when this revision was written: the aging the
rows already there are placed with (``queue_key`` of core.scheduling, frozen here)."""


# Plain ALTER TABLE, not a batch: on SQLite a batch copies the table, which drops the
# change feed's triggers (migration 0006). The column stays nullable for the same
# reason; every insert sets it.


def upgrade() -> None:
    op.add_column("jobs", sa.Column("queue_key", sa.BigInteger(), nullable=True))
    op.execute(sa.text(f"UPDATE jobs SET queue_key = created_ms * {AGING_PER_S} - 1000 * priority"))
    op.drop_index("ix_jobs_dispatch", table_name="jobs")
    op.create_index("ix_jobs_queue", "jobs", ["state", "offering", "queue_key", "created_ms", "id"])
    op.create_index("ix_jobs_seats", "jobs", ["assigned_worker", "state"])
    # what the keys were made with: a coordinator with another aging keys them again
    op.execute(sa.text(f"INSERT INTO counters (name, value) VALUES ('queue_aging', {AGING_PER_S})"))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM counters WHERE name = 'queue_aging'"))
    op.drop_index("ix_jobs_seats", table_name="jobs")
    op.drop_index("ix_jobs_queue", table_name="jobs")
    op.create_index("ix_jobs_dispatch", "jobs", ["state", "offering", "priority", "created_ms"])
    op.drop_column("jobs", "queue_key")
