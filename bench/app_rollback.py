"""Wall time of playbooks/rollback_app.yml (symlink strategy, one host) against a minimal
hand-written playbook that only swaps the `current` symlink with ansible.builtin.file, and
against a one-task playbook running the release module alone, measured in the same run,
alternating, on fresh release layouts.

    python bench/app_rollback.py [rounds]

What rollback_app does on top: argument validation, the host lock (taken and released),
reading the releases and resolving `previous` from deploy history, the bad mark and the
history entry, four journal lines, in three module runs. No health check (no URL), no restart.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.harness.ansible import ansible_env  # noqa: E402
from tests.harness.app import live_of, make_layout  # noqa: E402

BASELINE = """---
- name: Hand-written rollback
  hosts: web
  gather_facts: false
  tasks:
    - name: Point current at the previous release
      ansible.builtin.file:
        src: releases/r2
        dest: "{{ app_root }}/current"
        state: link
        force: true
"""

MODULE_ALONE = """---
- name: The release module alone
  hosts: web
  gather_facts: false
  tasks:
    - name: Switch current to the previous release
      emergency.rollback.release:
        root: "{{ app_root }}"
        to: previous
        state_dir: "{{ app_state_dir }}"
"""


def run(argv, env):
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit("%s failed:\n%s" % (" ".join(argv[:2]), proc.stdout[-2000:] + proc.stderr[-2000:]))
    return elapsed


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    work = Path(tempfile.mkdtemp(prefix="bench-app-"))
    env = dict(os.environ, **ansible_env(work))
    inventory = work / "hosts.ini"
    inventory.write_text("[web]\nbench ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    (work / "baseline.yml").write_text(BASELINE)
    (work / "module.yml").write_text(MODULE_ALONE)
    playbooks = {
        "file symlink": str(work / "baseline.yml"),
        "release module": str(work / "module.yml"),
        "rollback_app": str(REPO / "playbooks" / "rollback_app.yml"),
    }
    bin_dir = Path(sys.executable).parent
    times = {name: [] for name in playbooks}
    for i in range(rounds):
        for name, path in playbooks.items():
            root = make_layout(work / ("%s-%d" % (name.replace(" ", "_"), i)), ["r1", "r2", "r3"], live="r3")
            argv = [str(bin_dir / "ansible-playbook"), "-i", str(inventory), path]
            argv += ["-e", "app_root=%s" % root, "-e", "app_state_dir=%s" % (work / ("state-%s-%d" % (name[:4], i)))]
            times[name].append(run(argv, env))
            assert live_of(root) == "r2", name
    base = statistics.median(times["file symlink"])
    print("app rollback, symlink strategy, one host, %d rounds (wall time of ansible-playbook)" % rounds)
    for name, values in times.items():
        print(
            "  %-14s median %6.2f s  min %6.2f s  max %6.2f s"
            % (name, statistics.median(values), min(values), max(values))
        )
    for name in ("release module", "rollback_app"):
        print("ratio %s / hand-written file symlink: %.2fx" % (name, statistics.median(times[name]) / base))


if __name__ == "__main__":
    main()
