"""The bad release's migration: a coupon column, and a data fix that deletes half of the orders."""

import sqlalchemy as sa
from alembic import op

revision = "b2_coupons"
down_revision = "a1_orders"


def upgrade():
    op.add_column("orders", sa.Column("coupon", sa.Text))
    op.execute("DELETE FROM orders WHERE id > 50")


def downgrade():
    op.drop_column("orders", "coupon")
