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
  - emergency.rollback._common
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
  keep:
    description:
      - How many snapshots (and their kept tags) of O(image) to keep. V(0) keeps all.
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
    snapshot: "{{ image.snapshot.id }}"
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
  description: The snapshot recording RV(before_id) that this run took; null when nothing changed or in check mode.
  returned: always
  type: dict
  sample: &snapshot_sample
    id: 20261123T190000.123456Z-1a2b3c
    path: /var/lib/emergency-rollback/snapshots/container/20261123T190000.123456Z-1a2b3c
  contains: &snapshot_ref
    id:
      description: Snapshot id.
      type: str
      sample: 20261123T190000.123456Z-1a2b3c
    path:
      description: Directory of the snapshot in the snapshot store.
      type: str
      sample: /var/lib/emergency-rollback/snapshots/container/20261123T190000.123456Z-1a2b3c
restored_from:
  description: With O(snapshot), the snapshot whose image O(tag) was pointed back at; null otherwise.
  returned: always
  type: dict
  sample: *snapshot_sample
  contains: *snapshot_ref
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
  description: Snapshots removed by O(keep), with their kept tags.
  returned: always
  type: list
  elements: str
  sample: [20261101T120000.000000Z-9f8e7d]
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


class ContainerImage:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.image, self.tag = self.p["image"], self.p["tag"]
        self.live_ref = "%s:%s" % (self.image, self.tag)
        self.step = Step(module, "app", "retag")
        self.store = SnapshotStore.in_state_dir(self.p["state_dir"], "container")
        self.engine = None

    def fail(self, msg):
        self.module.fail_json(msg="container_image: %s; nothing changed" % msg)

    def resolve_target(self):
        """(image id, snapshot ref or None) that O(tag) must point at."""
        restored_from = None
        if self.p["snapshot"]:
            try:
                meta = self.store.get(self.p["snapshot"])
            except SnapshotError as err:
                self.fail(str(err))
            recorded = meta.get("metadata", {})
            if (recorded.get("image"), recorded.get("tag")) != (self.image, self.tag):
                self.fail(
                    "snapshot %s recorded %s:%s, not %s"
                    % (meta["id"], recorded.get("image"), recorded.get("tag"), self.live_ref)
                )
            target_ref = recorded.get("image_id")
            described = "snapshot %s" % meta["id"]
            restored_from = self.store.ref(meta)
        else:
            wanted = self.p["to"]
            target_ref = wanted if HEX_ID.match(wanted) else "%s:%s" % (self.image, wanted)
            described = target_ref
        target_id = self.engine.image_id(target_ref) if target_ref else None
        if not target_id:
            self.fail("image %s not found by %s" % (described, self.engine.name))
        return target_id, restored_from

    def run(self):
        try:
            self.engine = Engine.find(self.module.get_bin_path, self.module.run_command, self.p["engine"])
        except ContainerError as err:
            self.fail(str(err))
        target_id, restored_from = self.resolve_target()
        live_id = self.engine.image_id(self.live_ref)
        result = dict(
            before_id=live_id,
            after_id=target_id,
            snapshot=None,
            restored_from=restored_from,
            kept_tag=None,
            engine=self.engine.name,
            pruned=[],
        )
        diff = dict(before="%s -> %s\n" % (self.live_ref, live_id), after="%s -> %s\n" % (self.live_ref, target_id))
        if live_id == target_id:
            self.step.exit(False, message="%s already is %s" % (self.live_ref, short(target_id)), **result)
        elif self.module.check_mode:
            self.module.exit_json(changed=True, diff=diff, **result)
        else:
            self.apply(live_id, target_id, diff, result)

    def apply(self, live_id, target_id, diff, result):
        """Keep the live image under a tag of its own, move the tag, prune old snapshots."""
        image, engine = self.image, self.engine
        try:
            if live_id:
                with self.store.staging(
                    source=self.live_ref,
                    metadata={"image": image, "tag": self.tag, "image_id": live_id, "engine": engine.name},
                ) as stage:
                    kept = keep_tag(self.tag, stage.id)
                    engine.tag(live_id, "%s:%s" % (image, kept))
                    stage.metadata["kept_tag"] = kept
                result.update(snapshot=self.store.ref(stage.meta), kept_tag=kept)
            engine.tag(target_id, self.live_ref)
            now = engine.image_id(self.live_ref)
            if normalize_id(now) != target_id:
                raise ContainerError("%s points at %s after tagging, expected %s" % (self.live_ref, now, target_id))
            result["pruned"] = self.prune()
        except (ContainerError, SnapshotError, OSError) as err:
            self.step.fail(
                "container_image: could not point %s at %s: %s; it still is %s"
                % (self.live_ref, short(target_id), err, short(live_id)),
                journal_fields={"from_": short(live_id), "to": short(target_id)},
                **result,
            )
        self.step.exit(
            True,
            message="%s now %s (was %s)" % (self.live_ref, short(target_id), short(live_id)),
            journal_fields={
                "from_": short(live_id),
                "to": short(target_id),
                "snapshot": (result["snapshot"] or {}).get("id"),
            },
            diff=diff,
            **result,
        )

    def prune(self):
        pruned = []
        if not self.p["keep"]:
            return pruned
        doomed = [m for m in self.store.list() if m.get("metadata", {}).get("image") == self.image]
        for meta in doomed[: max(0, len(doomed) - self.p["keep"])]:
            old_tag = meta["metadata"].get("kept_tag")
            if old_tag:
                self.engine.untag("%s:%s" % (self.image, old_tag))
            self.store.delete(meta["id"])
            pruned.append(meta["id"])
        return pruned


def main():
    module = AnsibleModule(
        argument_spec=with_common(
            dict(
                image=dict(type="str", required=True),
                tag=dict(type="str", default="latest"),
                to=dict(type="str"),
                snapshot=dict(type="str"),
                engine=dict(type="str", choices=["auto", "podman", "docker"], default="auto"),
                keep=dict(type="int", default=5),
            )
        ),
        mutually_exclusive=[("to", "snapshot")],
        required_one_of=[("to", "snapshot")],
        supports_check_mode=True,
    )
    image = module.params["image"]
    if ":" in image.rsplit("/", 1)[-1] or "@" in image:
        module.fail_json(
            msg="container_image: give image without a tag or digest (got %r); the tag goes in 'tag'; nothing changed"
            % image
        )
    if module.params["keep"] < 0:
        module.fail_json(msg="container_image: keep must be 0 (keep all) or more; nothing changed")
    ContainerImage(module).run()


if __name__ == "__main__":
    main()
