"""idempotency keys of submits; a change feed numbered in commit order; active jobs by user

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

WATCHED = "state, payment, updated_ms"
"""Columns whose change is a change a requester sees (a heartbeat's new expiry is not)."""

# SQLite: BEGIN IMMEDIATE serialises writers, so numbering a row when it is written is
# numbering it in commit order. Recursive triggers are off: the trigger's own UPDATE
# (of change_seq, not a watched column) fires nothing.
SQLITE_BODY = """
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'job_changes';
    UPDATE jobs SET change_seq = (SELECT value FROM counters WHERE name = 'job_changes')
    WHERE id = NEW.id;
END
"""

# PostgreSQL: a deferred constraint trigger runs at commit, after every row lock the
# transaction takes, and holds the counter's row lock only until the commit ends; the
# next committer waits for it, so numbers follow commit order (see decision 0017).
POSTGRES_FUNCTION = """
CREATE FUNCTION swarmgen_job_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    next_seq bigint;
BEGIN
    UPDATE counters SET value = value + 1 WHERE name = 'job_changes'
    RETURNING value INTO next_seq;
    UPDATE jobs SET change_seq = next_seq WHERE id = NEW.id;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("job_ids", sa.JSON(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id", "key"),
    )
    op.create_index("ix_idempotency_keys_created_ms", "idempotency_keys", ["created_ms"])
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("change_seq", sa.BigInteger(), nullable=True))
    # Jobs already there join the feed in the order of their last change.
    conn = op.get_bind()
    ids = conn.execute(sa.text("SELECT id FROM jobs ORDER BY updated_ms, id")).scalars().all()
    if ids:
        conn.execute(
            sa.text("UPDATE jobs SET change_seq = :seq WHERE id = :id"),
            [{"seq": seq, "id": job_id} for seq, job_id in enumerate(ids, start=1)],
        )
    op.execute(
        sa.text("INSERT INTO counters (name, value) VALUES ('job_changes', :n)").bindparams(
            n=len(ids)
        )
    )
    op.create_index("ix_jobs_changes", "jobs", ["user_id", "change_seq"])
    op.create_index("ix_jobs_user_state", "jobs", ["user_id", "state"])
    if conn.dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(
            f"CREATE CONSTRAINT TRIGGER jobs_changed AFTER INSERT OR UPDATE OF {WATCHED} "
            "ON jobs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            "EXECUTE FUNCTION swarmgen_job_changed()"
        )
    else:
        op.execute(f"CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs {SQLITE_BODY}")
        op.execute(f"CREATE TRIGGER jobs_changed AFTER UPDATE OF {WATCHED} ON jobs {SQLITE_BODY}")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("DROP TRIGGER jobs_changed ON jobs")
        op.execute("DROP FUNCTION swarmgen_job_changed()")
    else:
        op.execute("DROP TRIGGER jobs_changed")
        op.execute("DROP TRIGGER jobs_inserted")
    op.drop_index("ix_jobs_user_state", table_name="jobs")
    op.drop_index("ix_jobs_changes", table_name="jobs")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("change_seq")
    op.drop_table("counters")
    op.drop_index("ix_idempotency_keys_created_ms", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
