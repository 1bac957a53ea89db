#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: data_loss_report
short_description: Count the rows a database rollback would lose (rows newer than the snapshot)
version_added: 0.1.0
description:
  - For each table, counts the rows whose timestamp column is later than the snapshot's consistency
    point (the runbooks' "orders lost in the rollback window"), and sums an optional amount column.
  - The point in time is the snapshot's (O(snapshot), V(latest) by default) or an explicit O(since).
  - Read-only; it never reports a change. Runs in check mode too.
  - Timestamp columns without time zone are compared in the server's C(TimeZone).
  - Rows written by a transaction that started before the snapshot but committed after it carry an
    earlier timestamp and are not counted; keep the write load low while snapshotting if that matters.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
  - emergency.rollback.postgres
attributes:
  check_mode:
    support: full
    description: It only reads, so check mode runs the same queries.
  diff_mode:
    support: none
    description: It changes nothing.
options:
  tables:
    description:
      - Tables to count new rows in.
    type: list
    elements: dict
    required: true
    suboptions:
      table:
        description: Table name, optionally schema-qualified.
        type: str
        required: true
      column:
        description: Timestamp column telling when a row was written.
        type: str
        required: true
      amount_column:
        description: Numeric column to sum over the new rows.
        type: str
  snapshot:
    description:
      - Snapshot of O(database) whose time is the cut-off; an id, V(latest) or V(previous).
    type: str
    default: latest
  since:
    description:
      - Explicit cut-off instead of a snapshot's time, as ISO 8601 (C(2026-11-23T18:45:01Z)) or epoch seconds.
    type: str
"""

EXAMPLES = r"""
- name: How many orders would the rollback lose?
  emergency.rollback.data_loss_report:
    database: shop
    login_user: rollback
    login_password: "{{ vault_rollback_db_password }}"
    tables:
      - table: orders
        column: created_at
        amount_column: total
      - table: users
        column: created_at
  register: database_loss

- name: Tell the incident channel
  ansible.builtin.debug:
    msg: "{{ database_loss.rows_lost }} rows would be lost"
"""

RETURN = r"""
since:
  description: The cut-off used (ISO 8601, UTC).
  returned: success
  type: str
  sample: "2026-11-23T18:45:01.123Z"
cutoff_snapshot:
  description: The snapshot whose time was the cut-off; C(null) with O(since). It is not a snapshot this
    module took, so not called C(snapshot) (docs/vocabulary.md).
  returned: success
  type: dict
  sample:
    id: shop-20261123T184501.123456Z-1a2b3c
    path: /var/lib/emergency-rollback/snapshots/database/shop-20261123T184501.123456Z-1a2b3c
  contains:
    id:
      description: Snapshot id.
      type: str
      sample: shop-20261123T184501.123456Z-1a2b3c
    path:
      description: Directory of the snapshot in the snapshot store.
      type: str
      sample: /var/lib/emergency-rollback/snapshots/database/shop-20261123T184501.123456Z-1a2b3c
tables:
  description: Per table, the rows newer than the cut-off and the sum of the amount column (as a string, exact).
  returned: success
  type: list
  elements: dict
  sample: [{table: orders, column: created_at, rows: 12, amount_column: total, amount: "1534.20"}]
rows_lost:
  description: Total of the rows newer than the cut-off.
  returned: success
  type: int
  sample: 12
"""

import datetime

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.emergency.rollback.plugins.module_utils import _pg
from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import SnapshotError


def parse_since(value):
    """Epoch seconds from ISO 8601 (naive means UTC) or a number."""
    try:
        return float(value)
    except ValueError:
        pass
    stamp = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=_pg.UTC)
    return stamp.timestamp()


def main():
    spec = _pg.connection_argument_spec()
    spec.update(
        tables=dict(
            type="list",
            elements="dict",
            required=True,
            options=_pg.DATA_LOSS_TABLE_OPTIONS,
        ),
        snapshot=dict(type="str", default="latest"),
        since=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=with_common(spec), supports_check_mode=True)
    if not _pg.HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib(_pg.PSYCOPG_LIBRARY), exception=str(_pg.PSYCOPG_IMPORT_ERROR))
    p = module.params
    cutoff = None
    if p["since"]:
        try:
            since = parse_since(p["since"])
        except ValueError:
            module.fail_json(msg="data_loss_report: since=%r is neither ISO 8601 nor epoch seconds" % p["since"])
    else:
        try:
            snaps = _pg.PgSnapshots(p["state_dir"], _pg.ENGINE, p["database"])
            meta = snaps.get(p["snapshot"])
        except SnapshotError as err:
            module.fail_json(msg="data_loss_report: %s" % err)
        cutoff = snaps.ref(meta)
        since = meta["metadata"].get("snapshot_ts") or meta["created_ts"]
    pg = _pg.Pg(p)
    try:
        conn = pg.connect()
        try:
            report = _pg.data_loss(conn, p["tables"], since)
        finally:
            conn.close()
    except _pg.PgError as err:
        module.fail_json(msg="data_loss_report: %s" % err)
    lost = sum(r["rows"] for r in report)
    # Journaled (not a change): the incident report states the rows lost in the rollback window.
    Step(module, "database", "data_loss_report").exit(
        False,
        message="%d rows newer than %s" % (lost, _pg.iso(since)),
        journal_fields={"snapshot": cutoff and cutoff["path"], "rows_lost": lost, "tables": report},
        since=_pg.iso(since),
        cutoff_snapshot=cutoff,
        tables=report,
        rows_lost=lost,
    )


if __name__ == "__main__":
    main()
