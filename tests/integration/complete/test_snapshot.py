"""playbooks/snapshot.yml on the localhost sandbox of the complete rollback: one recovery point
across the database, config files, certificates, live release and provider endpoints."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from tests.harness.sslcache import pki, tls_site  # noqa: F401 - fixtures
from tests.harness.stack import BAD_HOOK, changed_tasks

pytestmark = pytest.mark.integration

SNAPSHOT = str(Path(__file__).resolve().parents[3] / "playbooks" / "snapshot.yml")
POINT = re.compile(r"recovery point (rp-\d{8}T\d{6}Z) taken at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")


def recovery_point(run):
    msg = run.result("Recovery point")["msg"]
    found = POINT.fullmatch(msg.strip())
    assert found, msg
    return found.groups()


def manifest(box, point):
    return json.loads((box.state_dir / "recovery_points" / ("%s.json" % point)).read_text())


def test_snapshot_takes_one_verified_recovery_point_and_reuses_it(playbook, sandbox, task, tmp_path):
    env = tmp_path / "shop.env"
    env.write_text("ENABLE_NEW_PAYMENT_FLOW=true\n")
    extravars = sandbox.extravars(app_config_files=[str(env)])
    run = playbook(SNAPSHOT, inventory=sandbox.inventory(), extravars=extravars)
    assert run.rc == 0, run.stdout[-4000:]
    point, when = recovery_point(run)
    stamp = point[3:]
    assert when == "%s-%s-%sT%s:%s:%sZ" % (stamp[:4], stamp[4:6], stamp[6:8], stamp[9:11], stamp[11:13], stamp[13:15])

    parts = manifest(sandbox, point)["parts"]
    assert set(parts) == {"database", "app", "ssl", "webhooks"}
    # the database: a dump under the recovery point's id, with the live rows, proven by a restore
    database = parts["database"]
    assert database["snapshot"]["id"] == point and database["verified"] is True
    assert database["rows"]["orders"] == sandbox.db.counts()["orders"] == 0
    event, res, _ = task(
        "emergency.rollback.pg_snapshot",
        sandbox.db.params(state_dir=str(sandbox.state_dir), state="verified", snapshot_id=point),
    )
    assert event == "runner_on_ok", res
    # the app: the live release and the config files as they are
    assert parts["app"]["release"] == "r2"
    config = Path(parts["app"]["config"]["path"])
    kept = [p for p in config.rglob("*") if p.is_file() and p.read_bytes() == env.read_bytes()]
    assert kept, sorted(config.rglob("*"))
    # the certificates: the set nginx serves now
    served = hashlib.sha256(sandbox.served_certificate()).hexdigest()
    assert parts["ssl"]["fingerprint"].replace(":", "").lower() == served
    assert Path(parts["ssl"]["snapshot"]["path"]).is_dir()
    # the provider: the endpoint's URL now (the bad release's), stored
    assert [e["url"] for e in parts["webhooks"]["endpoints"]] == [BAD_HOOK]
    assert all(Path(s["path"]).is_dir() for s in parts["webhooks"]["snapshots"])
    journaled = [e for e in sandbox.journal() if e["component"] == "rollback" and e["action"] == "snapshot"]
    assert [e["details"]["id"] for e in journaled] == [point]
    assert not (sandbox.state_dir / "rollback.lock").exists()

    # a repeated run with nothing moved: the same point, nothing changed
    again = playbook(SNAPSHOT, inventory=sandbox.inventory(), extravars=extravars)
    assert again.rc == 0, again.stdout[-4000:]
    assert recovery_point(again)[0] == point
    assert changed_tasks(again) == []

    # a release went live since: the next run takes a new point on its own
    current = sandbox.root / "current"
    os.unlink(current)
    os.symlink("releases/r1", current)
    moved = playbook(SNAPSHOT, inventory=sandbox.inventory(), extravars=extravars)
    assert moved.rc == 0, moved.stdout[-4000:]
    new_point = recovery_point(moved)[0]
    assert new_point > point
    new_parts = manifest(sandbox, new_point)["parts"]
    assert new_parts["app"]["release"] == "r1"
    assert new_parts["database"]["snapshot"]["id"] == new_point and new_parts["database"]["verified"] is True
    # the same certificate set keeps the snapshot it had
    assert new_parts["ssl"]["snapshot"] == parts["ssl"]["snapshot"]
