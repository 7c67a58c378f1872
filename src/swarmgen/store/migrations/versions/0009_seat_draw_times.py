"""seat draw times: a drawn validation seat must be taken within a deadline counted
from its draw

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not a batch: on SQLite a batch copies the table, which drops the
# change feed's triggers (migration 0006).


def upgrade() -> None:
    op.add_column("jobs", sa.Column("assigned_ms", sa.BigInteger(), nullable=True))
    # A seat drawn when this revision runs was last changed by its draw.
    op.execute(
        sa.text(
            "UPDATE jobs SET assigned_ms = updated_ms "
            "WHERE assigned_worker IS NOT NULL AND state = 'queued'"
        )
    )


def downgrade() -> None:
    op.drop_column("jobs", "assigned_ms")
