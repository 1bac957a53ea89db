#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pg_info
short_description: Read a PostgreSQL database's size, oid, row counts and revision, and check a snapshot
version_added: 0.2.0
description:
  - Read-only, for preflight and verification (community.postgresql's C(postgresql_info) pattern).
  - Connects to O(database) and returns its size, oid, the row count of every table and the Alembic
    revision, with the free space of the snapshot store under O(state_dir).
  - With O(snapshot) (V(latest), V(previous) or an id), also resolves it to one snapshot of O(database)
    in the store and checks its checksum and its archive (C(pg_restore --list)); a corrupt or
    missing snapshot fails. It does not test-restore it (see M(emergency.rollback.pg_snapshot)).
  - Never writes to the database, the store or the journal.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback._common
  - emergency.rollback.postgres
requirements:
  - psycopg >= 3 or psycopg2
  - PostgreSQL client tools (pg_restore) on the host when O(snapshot) is given
attributes:
  check_mode:
    support: full
    description: It only reads, so it runs unchanged in check mode.
  diff_mode:
    support: none
    description: It changes nothing.
options:
  snapshot:
    description:
      - A snapshot of O(database) to resolve and check, V(latest), V(previous) or a snapshot id.
    type: str
"""

EXAMPLES = r"""
- name: Measure the database before a snapshot
  emergency.rollback.pg_info:
    database: shop
    state_dir: /var/lib/emergency-rollback
  register: shop_db

- name: Resolve the snapshot to restore and check it is sound
  emergency.rollback.pg_info:
    database: shop
    snapshot: previous
  register: restore_from
"""

RETURN = r"""
database_size:
  description: Size of O(database) in bytes.
  returned: success
  type: int
  sample: 73572831
database_oid:
  description: Oid of O(database) (a restore swaps in a new database, with a new oid).
  returned: success
  type: int
  sample: 16384
row_counts:
  description: Rows per table, C(schema.table) or C(table) for the public schema.
  returned: success
  type: dict
  sample: {"orders": 50, "billing.invoices": 5}
alembic_revision:
  description: The Alembic revision of O(database); null without an C(alembic_version) table.
  returned: success
  type: str
  sample: 0003_audit
free_bytes:
  description: Free bytes where the snapshot store lives.
  returned: success
  type: int
  sample: 52613349376
snapshot:
  description: The snapshot O(snapshot) resolves to; C(id) is what O(snapshot) takes to name it again.
  returned: when O(snapshot) is given
  type: dict
  sample:
    id: shop-20261126T150102Z
    path: /var/lib/emergency-rollback/snapshots/database/shop-20261126T150102Z
  contains:
    id:
      description: Snapshot id, the value O(snapshot) takes to name it again.
      type: str
      sample: shop-20261126T150102Z
    path:
      description: Directory of the snapshot in the snapshot store.
      type: str
      sample: /var/lib/emergency-rollback/snapshots/database/shop-20261126T150102Z
snapshot_meta:
  description: That snapshot's metadata (row counts, revision, checksum) as recorded when it was taken.
  returned: when O(snapshot) is given
  type: dict
  sample: {"id": "shop-20261126T150102Z", "metadata": {"database": "shop", "row_counts": {"orders": 50}}}
archive_entries:
  description: Entries C(pg_restore --list) reads from the snapshot's dump.
  returned: when O(snapshot) is given
  type: int
  sample: 42
"""

import shutil

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.emergency.rollback.plugins.module_utils import _pg
from ansible_collections.emergency.rollback.plugins.module_utils._common import with_common
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import (
    SnapshotError,
    existing_parent,
)


def read_database(module, pg, store_dir):
    db = pg.params["database"]
    try:
        live = pg.live_summary()
    except _pg.PgError as err:
        module.fail_json(msg="pg_info: cannot read database %s: %s" % (db, err))
    if live is None or live.get("oid") is None:
        module.fail_json(msg="pg_info: database %s does not exist" % db)
    return dict(
        database_size=live["size"],
        database_oid=live["oid"],
        row_counts=live["row_counts"],
        alembic_revision=live["alembic_revision"],
        free_bytes=shutil.disk_usage(existing_parent(store_dir)).free,
    )


def check_snapshot(module, pg, snaps, ref):
    try:
        meta = snaps.get(ref)
        entries = _pg.check_snapshot(pg, snaps, meta)
    except (SnapshotError, _pg.PgError) as err:
        module.fail_json(
            msg="pg_info: snapshot %s of %s is not usable: %s" % (ref, pg.params["database"], _pg.one_line(err))
        )
    return dict(snapshot=snaps.ref(meta), snapshot_meta=meta, archive_entries=entries)


def main():
    spec = _pg.connection_argument_spec()
    spec.update(snapshot=dict(type="str"))
    module = AnsibleModule(argument_spec=with_common(spec), supports_check_mode=True)
    if not _pg.HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib(_pg.PSYCOPG_LIBRARY), exception=str(_pg.PSYCOPG_IMPORT_ERROR))
    p = module.params
    pg = _pg.Pg(p, run_command=module.run_command)
    snaps = _pg.PgSnapshots(p["state_dir"], _pg.ENGINE, p["database"])
    result = read_database(module, pg, snaps.store.dir)
    if p["snapshot"]:
        result.update(check_snapshot(module, pg, snaps, p["snapshot"]))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
