"""blinded text validation: a sampling id per text job replaces the claimed tokens

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sampling_id", sa.String(length=32), nullable=True))
    # Text validations queued before this revision now generate instead of scoring: they
    # draw with their original's RNG, which was seeded by the original's own id.
    op.execute(
        sa.text(
            "UPDATE jobs SET sampling_id = validates "
            "WHERE validates IS NOT NULL AND score_tokens IS NOT NULL"
        )
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("score_tokens")


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("score_tokens", sa.JSON(), nullable=True))
        batch_op.drop_column("sampling_id")
