#!/usr/bin/python
# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_image
short_description: Point a container image tag back at a previous image, keeping the one it replaces
version_added: 0.1.0
description:
  - The runbook step C(docker tag app:previous app:latest), made safe. O(image):O(tag) is pointed at the
    image that O(to) names (another tag of O(image), or an image id), or at the image recorded in a
    snapshot (O(snapshot)), which undoes an earlier run.
  - The target is resolved once to an image id and reported. When O(image):O(tag) already is that image,
    nothing changes.
  - Before the tag moves, the image it pointed at is recorded in the snapshot store (component
    C(container)) and kept under the tag C(<tag>-pre-rollback-<snapshot id>), so pruning cannot delete it
    and the rollback can be undone.
  - Works with the C(podman) or the C(docker) CLI, whichever the host has (O(engine=auto) tries podman
    first). Restarting containers from the new tag (C(docker compose up -d), a systemd unit) is the
    caller's next step; the C(app) role does it.
author:
  - emergency.rollback maintainers (@emergency-rollback)
extends_documentation_fragment:
  - emergency.rollback.common
attributes:
  check_mode:
    support: full
    description: Resolves both images and reports whether the tag would move, without moving it.
  diff_mode:
    support: full
    description: Shows the image id before and after.
options:
  image:
    description:
      - Image repository, without a tag (for example C(registry.example.com/shop) or C(localhost/shop)).
    type: str
    required: true
  tag:
    description:
      - The tag that is moved (the one the service runs).
    type: str
    default: latest
  to:
    description:
      - Tag of O(image) (for example C(previous) or C(2026.11.20)) or an image id to point O(tag) at.
    type: str
  snapshot:
    description:
      - Point O(tag) at the image recorded in this snapshot of the C(container) component (an id, or
        V(latest) for the newest), which undoes the run that made it.
    type: str
  engine:
    description:
      - Container CLI to use.
    type: str
    choices: [auto, podman, docker]
    default: auto
  keep_snapshots:
    description:
      - How many snapshots (and their kept tags) of O(image):O(tag) to keep. V(0) keeps all.
    type: int
    default: 5
"""

EXAMPLES = r"""
- name: Run the previous image again
  emergency.rollback.container_image:
    image: registry.example.com/shop
    tag: latest
    to: previous
  register: image

- name: Undo that rollback (point latest at the image it replaced)
  emergency.rollback.container_image:
    image: registry.example.com/shop
    tag: latest
    snapshot: "{{ image.snapshot }}"
"""

RETURN = r"""
before_id:
  description: Image id O(image):O(tag) pointed at before; null when the tag did not exist.
  returned: always
  type: str
  sample: 6c3e0a2fd1b8c1e4f0e8a0ad4c9c1e07d06f8f1f2f0f5a0f0e0d0c0b0a090807
after_id:
  description: Image id it points at now (or would, in check mode).
  returned: always
  type: str
  sample: d66c9ec56423168ec06ff291bfc6db9dc6878df5d98f9656e05971f2ac812439
snapshot:
  description: Id of the snapshot recording RV(before_id); null when nothing changed.
  returned: always
  type: str
  sample: 20261123T190000.123456Z-1a2b3c
kept_tag:
  description: The tag that now keeps the replaced image; null when nothing changed.
  returned: always
  type: str
  sample: latest-pre-rollback-20261123T190000.123456Z-1a2b3c
engine:
  description: The CLI used.
  returned: always
  type: str
  sample: podman
pruned:
  description: Snapshots removed by O(keep_snapshots), with their kept tags.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.emergency.rollback.plugins.module_utils._common import Step, with_common
from ansible_collections.emergency.rollback.plugins.module_utils._container import (
    HEX_ID,
    ContainerError,
    Engine,
    keep_tag,
    normalize_id,
)
from ansible_collections.emergency.rollback.plugins.module_utils._snapshot import SnapshotError, SnapshotStore


def short(image_id):
    return image_id[:12] if image_id else None


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                image=dict(type="str", required=True),
                tag=dict(type="str", default="latest"),
                to=dict(type="str"),
                snapshot=dict(type="str"),
                engine=dict(type="str", choices=["auto", "podman", "docker"], default="auto"),
                keep_snapshots=dict(type="int", default=5),
            )
        ),
        mutually_exclusive=[("to", "snapshot")],
        required_one_of=[("to", "snapshot")],
        supports_check_mode=True,
    )
    p = module.params
    image, tag = p["image"], p["tag"]
    live_ref = "%s:%s" % (image, tag)
    if ":" in image.rsplit("/", 1)[-1] or "@" in image:
        module.fail_json(
            msg="container_image: give image without a tag or digest (got %r); the tag goes in 'tag'" % image
        )
    if p["keep_snapshots"] < 0:
        module.fail_json(msg="container_image: keep_snapshots must be 0 or more")
    step = Step(module, "app", "retag")
    store = SnapshotStore.in_state_dir(p["state_dir"], "container")
    try:
        engine = Engine.find(module.get_bin_path, module.run_command, p["engine"])
    except ContainerError as err:
        module.fail_json(msg="container_image: %s; nothing changed" % err)

    if p["snapshot"]:
        try:
            meta = store.get(p["snapshot"])
        except SnapshotError as err:
            module.fail_json(msg="container_image: %s; nothing changed" % err)
        recorded = meta.get("metadata", {})
        if (recorded.get("image"), recorded.get("tag")) != (image, tag):
            module.fail_json(
                msg="container_image: snapshot %s recorded %s:%s, not %s; nothing changed"
                % (meta["id"], recorded.get("image"), recorded.get("tag"), live_ref)
            )
        wanted = recorded.get("image_id")
        target_ref = wanted
        described = "snapshot %s" % meta["id"]
    else:
        wanted = p["to"]
        target_ref = wanted if HEX_ID.match(wanted) else "%s:%s" % (image, wanted)
        described = target_ref
    target_id = engine.image_id(target_ref) if target_ref else None
    if not target_id:
        module.fail_json(msg="container_image: image %s not found by %s; nothing changed" % (described, engine.name))
    live_id = engine.image_id(live_ref)

    result = dict(before_id=live_id, after_id=target_id, snapshot=None, kept_tag=None, engine=engine.name, pruned=[])
    diff = dict(before="%s -> %s\n" % (live_ref, live_id), after="%s -> %s\n" % (live_ref, target_id))
    if live_id == target_id:
        step.exit(False, message="%s already is %s" % (live_ref, short(target_id)), **result)
    if module.check_mode:
        module.exit_json(changed=True, diff=diff, **result)

    try:
        kept = None
        if live_id:
            with store.staging(
                source=live_ref, metadata={"image": image, "tag": tag, "image_id": live_id, "engine": engine.name}
            ) as stage:
                kept = keep_tag(tag, stage.id)
                engine.tag(live_id, "%s:%s" % (image, kept))
                stage.metadata["kept_tag"] = kept
            result.update(snapshot=stage.id, kept_tag=kept)
        engine.tag(target_id, live_ref)
        now = engine.image_id(live_ref)
        if normalize_id(now) != target_id:
            raise ContainerError("%s points at %s after tagging, expected %s" % (live_ref, now, target_id))
        if p["keep_snapshots"]:
            doomed = [m for m in store.list() if m.get("metadata", {}).get("image") == image]
            for meta in doomed[: max(0, len(doomed) - p["keep_snapshots"])]:
                old_tag = meta["metadata"].get("kept_tag")
                if old_tag:
                    engine.untag("%s:%s" % (image, old_tag))
                store.delete(meta["id"])
                result["pruned"].append(meta["id"])
    except (ContainerError, SnapshotError, OSError) as err:
        step.fail(
            "container_image: could not point %s at %s: %s; it still is %s"
            % (live_ref, short(target_id), err, short(live_id)),
            journal_fields={"from_": short(live_id), "to": short(target_id)},
            **result,
        )
    step.exit(
        True,
        message="%s now %s (was %s)" % (live_ref, short(target_id), short(live_id)),
        journal_fields={"from_": short(live_id), "to": short(target_id), "snapshot": result["snapshot"]},
        diff=diff,
        **result,
    )


if __name__ == "__main__":
    main()
