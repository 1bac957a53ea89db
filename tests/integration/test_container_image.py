"""container_image against real images built here (no registry needed: FROM scratch).

Each test runs with podman and with Debian's Docker engine (a private dockerd, see
tests/harness/dockerd.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest

from tests.harness.dockerd import Engine, dockerd  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


@pytest.fixture(params=["podman", "docker"])
def engine(request):
    if request.param == "docker":
        return Engine("docker", request.getfixturevalue("dockerd"))
    if not shutil.which("podman"):
        pytest.fail("podman is not installed: run molecule/prepare-hosts.sh (make molecule does)")
    return Engine("podman")


@pytest.fixture
def images(tmp_path, engine):
    """localhost/rb-<random>:v1 and :v2, two tiny distinct images; :latest = v2 (the bad deploy)."""
    repo = "localhost/rb-%s" % uuid.uuid4().hex[:8]
    ids = {}
    for version in ("v1", "v2"):
        ctx = tmp_path / version
        ctx.mkdir()
        (ctx / "version.txt").write_text(version)
        (ctx / "Containerfile").write_text("FROM scratch\nCOPY version.txt /version.txt\n")
        engine("build", "-q", "-t", "%s:%s" % (repo, version), "-f", str(ctx / "Containerfile"), str(ctx))
        ids[version] = engine.image_id("%s:%s" % (repo, version))
    engine("tag", "%s:v2" % repo, "%s:latest" % repo)
    engine("tag", "%s:v1" % repo, "%s:previous" % repo)
    yield repo, ids
    for image_id in ids.values():
        try:
            engine("rmi", "-f", image_id)
        except subprocess.CalledProcessError:
            pass


@pytest.fixture
def on(engine, tmp_path):
    """Task keywords running the module with this engine (docker: the private daemon's socket)."""
    return {"environment": engine.envvars(tmp_path)}


@pytest.fixture
def live(engine):
    return lambda repo: engine.image_id("%s:latest" % repo)


def test_rollback_to_previous_and_undo(four, images, state_dir, engine, on, live):
    repo, ids = images
    args = {"image": repo, "to": "previous", "engine": engine.name, "state_dir": str(state_dir), "run_id": "rb-c1"}
    results = four("emergency.rollback.container_image", args, **on)
    assert live(repo) == ids["v1"]
    first = results[1]
    assert (first["before_id"], first["after_id"], first["engine"]) == (ids["v2"], ids["v1"], engine.name)
    assert results[0]["diff"]["after"] == "%s:latest -> %s\n" % (repo, ids["v1"])
    # the replaced image is kept by a tag and recorded in the snapshot store
    assert engine.image_id("%s:%s" % (repo, first["kept_tag"])) == ids["v2"]
    assert first["snapshot"]["path"] == str(state_dir / "snapshots" / "container" / first["snapshot"]["id"])
    meta = json.loads((state_dir / "snapshots" / "container" / first["snapshot"]["id"] / "meta.json").read_text())
    assert meta["metadata"]["image_id"] == ids["v2"]
    assert results[3]["snapshot"] is None

    undo_args = {k: v for k, v in args.items() if k != "to"}
    undo = four("emergency.rollback.container_image", dict(undo_args, snapshot=first["snapshot"]["id"]), **on)
    assert live(repo) == ids["v2"]
    assert undo[1]["restored_from"] == first["snapshot"] and undo[0]["snapshot"] is None
    assert undo[1]["before_id"] == ids["v1"]
    journal = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    retags = [(e["action"], e["result"], e["from"], e["to"]) for e in journal]
    assert retags[0] == ("retag", "changed", ids["v2"][:12], ids["v1"][:12])
    assert ("retag", "changed", ids["v1"][:12], ids["v2"][:12]) in retags


def test_target_by_image_id(task, images, state_dir, engine, on, live):
    repo, ids = images
    args = {"image": repo, "to": ids["v1"][:12], "engine": engine.name, "state_dir": str(state_dir)}
    event, res, _ = task("emergency.rollback.container_image", args, **on)
    assert event == "runner_on_ok" and res["changed"] is True
    assert live(repo) == ids["v1"]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({"to": "no-such-tag"}, "not found by {engine}; nothing changed"),
        ({"to": "v1", "image_suffix": ":v2"}, "give image without a tag"),
        ({"snapshot": "latest"}, "no latest snapshot of container"),
    ],
)
def test_bad_input_changes_nothing(task, images, state_dir, args, reason, engine, on, live):
    repo, ids = images
    args = dict(args, engine=engine.name, state_dir=str(state_dir))
    args["image"] = repo + args.pop("image_suffix", "")
    event, res, _ = task("emergency.rollback.container_image", args, **on)
    assert event == "runner_on_failed"
    assert reason.format(engine=engine.name) in res["msg"] and "\n" not in res["msg"]
    assert live(repo) == ids["v2"]
    assert not (state_dir / "snapshots").exists()


def test_keep_prunes_old_kept_tags(task, images, state_dir, engine, on):
    repo, ids = images
    kept = []
    for target in ("v1", "v2", "v1"):
        event, res, _ = task(
            "emergency.rollback.container_image",
            {"image": repo, "to": target, "keep": 2, "engine": engine.name, "state_dir": str(state_dir)},
            **on,
        )
        assert event == "runner_on_ok", res
        kept.append(res["kept_tag"])
    assert len(res["pruned"]) == 1
    tags = engine("image", "list", "--format", "{{.Tag}}", repo).split()
    assert kept[0] not in tags and kept[1] in tags and kept[2] in tags
