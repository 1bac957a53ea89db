"""Orders (the previous release): 100 of them."""

import sqlalchemy as sa
from alembic import op

revision = "a1_orders"
down_revision = None


def upgrade():
    op.create_table("orders", sa.Column("id", sa.Integer, primary_key=True), sa.Column("amount", sa.Numeric(10, 2)))
    op.execute("INSERT INTO orders (amount) SELECT g * 1.5 FROM generate_series(1, 100) g")


def downgrade():
    op.drop_table("orders")
