from __future__ import annotations

import json
import time

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils._release import (
    Layout,
    ReleaseError,
    natural_key,
    tree_digest,
)
from tests.harness.app import make_layout


def resolve(layout, to):
    info = layout.info()
    bad = {r["id"]: r["bad_mark"] for r in info["releases"] if r["bad"]}
    return layout.resolve(to, info["live"], info["ids"], bad, info["deploy_history"])


def test_live_is_read_from_the_symlink_not_name_order(tmp_path):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3"], live="r2")
    info = Layout(str(root)).info()
    assert info["live"] == "r2" and info["current_target"] == "releases/r2"
    assert [r["id"] for r in info["releases"] if r["live"]] == ["r2"]
    assert info["releases"][0]["revision"] == "rev-r1"
    assert info["deploy_history"] == ["r1", "r2"] and info["history_source"] == "release id order"


def test_absolute_link_and_natural_order(tmp_path):
    root = make_layout(tmp_path / "app", ["v2", "v10", "v9"], live="v10", relative=False)
    layout = Layout(str(root))
    assert layout.release_ids() == ["v2", "v9", "v10"]
    assert resolve(layout, "previous") == "v9"
    assert resolve(layout, "-2") == "v2"
    assert layout.link_target("v9", "auto", str(root / "releases/v10")) == str(root / "releases/v9")
    assert layout.link_target("v9", "auto", "releases/v10") == "releases/v9"


@pytest.mark.parametrize(
    ("ids", "live", "to", "message"),
    [
        (["r1"], "r1", "previous", "only one release"),
        (["r1", "r2"], "r2", "r9", "release r9 not found"),
        (["r1", "r2"], "r2", "-3", "cannot go 3 back"),
        (["r1", "r2"], "r2", "../etc", "invalid release id"),
    ],
)
def test_resolve_errors(tmp_path, ids, live, to, message):
    layout = Layout(str(make_layout(tmp_path / "app", ids, live=live)))
    with pytest.raises(ReleaseError, match=message):
        resolve(layout, to)


def test_dangling_current_is_an_error(tmp_path):
    root = make_layout(tmp_path / "app", ["r1", "r2"], live="r2")
    (root / "current").unlink()
    (root / "current").symlink_to("releases/gone")
    with pytest.raises(ReleaseError, match="dangling"):
        Layout(str(root)).info()


def test_previous_skips_bad_and_counts_from_the_newest_deploy(tmp_path):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3"], live="r2")
    layout = Layout(str(root))
    layout.record(
        [{"id": "r2", "kind": "rollback", "from": "r3"}],
        materialize=["r1", "r2", "r3"],
    )
    layout.mark_bad("r3", {"by": "t", "at": "x", "at_ts": time.time(), "reason": "500s"})
    # r2 is live after a rollback from r3: previous still means r2 (no second step back).
    assert layout.info()["deploy_history"] == ["r1", "r2", "r3"]
    assert resolve(layout, "previous") == "r2"
    layout.mark_bad("r2", {"by": "t", "at": "x", "at_ts": time.time(), "reason": "also bad"})
    assert resolve(layout, "previous") == "r1"
    assert resolve(layout, "-1") == "r2"
    # a deploy made by another tool after our history: r4 becomes the head
    (root / "releases" / "r4").mkdir()
    (root / "current").unlink()
    (root / "current").symlink_to("releases/r4")
    assert layout.info()["deploy_history"] == ["r1", "r2", "r3", "r4"]
    assert resolve(layout, "previous") == "r1"
    history = json.loads((root / ".rollback/history.json").read_text())
    assert [e["id"] for e in history] == ["r1", "r2", "r3", "r2"]


def test_plan_prune_keeps_live_previous_good_and_young_bad(tmp_path):
    root = make_layout(tmp_path / "app", ["r1", "r2", "r3", "r4", "r5"], live="r4")
    layout = Layout(str(root))
    now = time.time()
    bad = {"r5": {"at_ts": now - 60}, "r1": {"at_ts": now - 30 * 86400}}
    assert layout.plan_prune(2, "r4", "r3", bad, 7 * 86400, now) == ["r1", "r2"]
    assert layout.plan_prune(0, "r4", "r3", bad, 7 * 86400, now) == []
    assert layout.plan_prune(1, "r4", "r3", bad, 7 * 86400, now) == ["r1", "r2"]


def test_tree_digest_sees_content_mode_and_links(tmp_path):
    a = make_layout(tmp_path / "a", ["r1"])
    b = make_layout(tmp_path / "b", ["r1"])
    assert tree_digest(a) == tree_digest(b)
    (b / "releases/r1/public/index.html").chmod(0o600)
    assert tree_digest(a) != tree_digest(b)


def test_natural_key():
    assert sorted(["r10", "r9", "r1"], key=natural_key) == ["r1", "r9", "r10"]


UNICODE_ID = "2026-11-20 release ünïcode"


def test_any_directory_name_is_a_release(tmp_path):
    """Spaces and non-ASCII letters are ids like any other, reported exactly and resolvable."""
    root = make_layout(tmp_path / "app", ["2026-11-19 old", UNICODE_ID, "2026-11-21 bad"], live="2026-11-21 bad")
    layout = Layout(str(root))
    assert layout.release_ids() == ["2026-11-19 old", UNICODE_ID, "2026-11-21 bad"]
    assert resolve(layout, "previous") == UNICODE_ID
    assert resolve(layout, UNICODE_ID) == UNICODE_ID
    assert resolve(layout, "-2") == "2026-11-19 old"
    with pytest.raises(ReleaseError, match="invalid release id"):
        resolve(layout, "a/b")


def test_names_without_a_number_follow_mtime(tmp_path):
    root = make_layout(tmp_path / "app", ["green", "alpha", "blue"], live="blue")
    for age, rid in enumerate(["blue", "alpha", "green"]):
        stamp = time.time() - 1000 + age * 100  # green newest, then alpha, then blue oldest
        import os

        os.utime(root / "releases" / rid, (stamp, stamp))
    layout = Layout(str(root))
    assert layout.release_ids() == ["blue", "alpha", "green"]


def test_symlinked_release_inside_root_counts_escaping_one_does_not(tmp_path):
    import os

    root = make_layout(tmp_path / "app", ["r1", "r2"], live="r2")
    (root / "shared" / "r0").mkdir()
    os.symlink(root / "shared" / "r0", root / "releases" / "r0")
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", root / "releases" / "r9")
    assert sorted(Layout(str(root)).release_ids()) == ["r0", "r1", "r2"]


def test_symlinked_root_with_absolute_current(tmp_path):
    """/srv/app -> /data/app with current -> /data/app/releases/<id>, as Capistrano writes it."""
    import os

    data = make_layout(tmp_path / "data" / "app", ["r1", "r2"])
    os.symlink(data / "releases" / "r2", data / "current")
    srv = tmp_path / "srv"
    srv.mkdir()
    os.symlink(data, srv / "app")
    layout = Layout(str(srv / "app"))
    assert layout.live() == ("r2", str(data / "releases" / "r2"))
    assert resolve(layout, "previous") == "r1"
    # the user's form of the link is kept: absolute, with the prefix it had
    assert layout.link_target("r1", "auto", str(data / "releases" / "r2")) == str(data / "releases" / "r1")
