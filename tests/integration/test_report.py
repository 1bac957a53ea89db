"""rollbackctl report: journals written by real modules on three hosts -> Markdown, JSON and HTML that agree.

The journals are shaped as the roles' run frame writes them (journal_record with the verdict and
its phases), plus a notification whose webhook URL carries a token, so the report is checked for
secrets the modules masked. The HTML is rendered in headless Chromium.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.services import free_port

pytestmark = pytest.mark.integration

CTL = str(Path(sys.executable).parent / "rollbackctl")
RUN = "rb-20261123T184500Z-abc123"
HOSTS = ("web1", "web2", "web3")
TOKEN = "xoxb-Secret-4f9a2e7c"
MASK = "********"
PHASES = ("preflight", "snapshot", "rollback", "verify")


def record(component, action, result, **extra):
    args = {"component": component, "action": action, "result": result, "run_id": "{{ run }}"}
    args.update(extra)
    return {"name": "%s %s" % (component, action), "emergency.rollback.journal_record": args}


def frame_tasks(failing):
    """One app role run per host as the frame journals it; the failing host reverts in verify."""
    phases = [{"phase": p, "duration_s": s} for p, s in zip(PHASES, (0.5, 1.5, 2.0), strict=False)]
    ok = {"phases": phases + [{"phase": "verify", "duration_s": 1.0}]}
    failed = {"phases": phases, "failed_phase": "verify", "reverted": ["release back to 20261122"]}
    return [
        record("app", "snapshot", "changed", snapshot="20261123T184400Z", duration_s=0.4),
        record("app", "switch", "changed", **{"from": "20261123", "to": "20261122", "duration_s": 1.2}),
        {
            **record("app", "auto_revert", "reverted", **{"from": "20261122", "to": "20261123", "duration_s": 0.8}),
            "when": "inventory_hostname == '%s'" % failing,
        },
        {
            "name": "notify the incident channel (its URL carries a token)",
            "emergency.rollback.notify": {
                "kind": "slack",
                "url": "http://127.0.0.1:%d/services/T0/B0/%s" % (free_port(), TOKEN),
                "status": "failed",
                "component": "app",
                "run_id": "{{ run }}",
                "timeout": 2,
                "retries": 0,
            },
            "when": "inventory_hostname == '%s'" % failing,
        },
        {
            **record("app", "verify", "ok", duration_s=5.0, summary="health checks passed", details=ok),
            "when": "inventory_hostname != '%s'" % failing,
        },
        {
            **record("app", "verify", "failed", duration_s=6.0, summary="failed in verify; reverted", details=failed),
            "when": "inventory_hostname == '%s'" % failing,
        },
    ]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Three hosts, each with its own state dir, after an older run and a run that failed on web3."""
    from tests.harness.ansible import run_playbook

    tmp = tmp_path_factory.mktemp("report")
    hosts = {
        h: {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "rollback_state_dir": str(tmp / h / "state"),
        }
        for h in HOSTS
    }
    inventory = {"all": {"hosts": hosts}}
    defaults = {"group/emergency.rollback.all": {"state_dir": "{{ rollback_state_dir }}"}}
    plays = [
        {
            "hosts": "web1",
            "gather_facts": False,
            "module_defaults": defaults,
            "vars": {"run": "rb-older"},
            "tasks": [record("cache", "flush", "changed", duration_s=0.2)],
        },
        {
            "hosts": "all",
            "gather_facts": False,
            "module_defaults": defaults,
            "vars": {"run": RUN},
            "tasks": frame_tasks("web3"),
        },
    ]
    run = run_playbook(tmp, plays, inventory=inventory)
    assert run.rc == 0, run.stdout[-3000:]
    inv = tmp / "hosts.json"
    inv.write_text(json.dumps(inventory))
    journals = {
        h: [json.loads(line) for line in (tmp / h / "state" / "journal.jsonl").read_text().splitlines()] for h in HOSTS
    }
    return tmp, inv, journals


def ctl(tmp, *args):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "LANG": "C.UTF-8"}
    return subprocess.run(
        [CTL, "--state-dir", str(tmp / "ctl"), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def report(fleet):
    tmp, inv, journals = fleet
    out = ctl(tmp, "report", RUN, "-i", str(inv), "-o", str(tmp / "out"), "--rto-target", "600")
    assert out.returncode == 0, out.stdout + out.stderr
    paths = {
        form: tmp / "out" / ("incident-%s.%s" % (RUN, ext))
        for form, ext in (("markdown", "md"), ("json", "json"), ("html", "html"))
    }
    return out, paths, journals


def test_prints_where_the_three_forms_are(report):
    out, paths, _journals = report
    assert "report of run %s (failed)" % RUN in out.stdout
    for form, path in paths.items():
        assert "%-8s %s" % (form, path) in out.stdout and path.stat().st_size > 0


def test_json_holds_every_journal_entry_of_the_run_and_the_verdicts(report):
    _out, paths, journals = report
    data = json.loads(paths["json"].read_text())
    assert data["schema_version"] == 1 and data["run_id"] == RUN
    expected = sorted(
        (h, e["ts"], e["component"], e["action"], e["result"])
        for h, lines in journals.items()
        for e in lines
        if e["run_id"] == RUN
    )
    got = sorted((e["host"], e["ts"], e["component"], e["action"], e["result"]) for e in data["timeline"])
    assert got == expected and len(got) == 3 * 3 + 2
    assert "rb-older" not in paths["json"].read_text()
    assert {h: v["verdict"] for h, v in data["hosts"].items()} == {
        "web1": "verified",
        "web2": "verified",
        "web3": "failed",
    }
    assert data["verdict"] == "failed" and data["summary"]["rto_met"] is True
    # The phases are the ones the verdicts name, with the failure and the revert on web3.
    assert [b["phase"] for b in data["phases"]["web1"]] == list(PHASES)
    assert [(b["phase"], b["result"]) for b in data["phases"]["web3"] if b["component"] == "app"][-2:] == [
        ("verify", "failed"),
        ("revert", "reverted"),
    ]
    assert data["hosts"]["web3"]["reverted"][0].startswith("release back to 20261122")
    assert data["human"] == {"root_cause": None, "lessons": None, "action_items": []}


def test_markdown_shows_the_same_steps_and_leaves_the_human_sections_empty(report):
    _out, paths, journals = report
    text = paths["markdown"].read_text()
    for host, lines in journals.items():
        for e in lines:
            if e["run_id"] == RUN:
                assert re.search(
                    r"\| %s \| %s \| %s \| %s \|" % (re.escape(e["ts"]), host, e["component"], e["action"]), text
                ), e
    assert "| web3 | failed | app: failed, notify: failed |" in text or "| web3 | failed |" in text
    assert "| web2 | app | switch | 20261123 | 20261122 | changed |" in text
    assert "| web3 | app | revert |" in text and "| reverted |" in text
    assert "RTO achieved:" in text and "vs target 600.0 s: met" in text
    for section in ("## Root cause", "## Lessons learned", "## Action items"):
        assert section in text
    assert "_To be written by the people who handled the incident._" in text


def test_no_secret_in_any_form_or_output(report):
    out, paths, journals = report
    journal_text = json.dumps(journals)
    assert TOKEN not in journal_text and MASK in journal_text  # the module masked it when it journaled
    for path in paths.values():
        text = path.read_text()
        assert TOKEN not in text and MASK in text, path
    assert TOKEN not in out.stdout + out.stderr


def chromium(*args, tmp):
    browser = shutil.which("chromium")
    if not browser:
        pytest.fail("chromium is not installed: run `make deps` (apt-get install chromium)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--user-data-dir=%s" % tmp,
    ]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=120, check=True)


def test_html_renders_in_chromium_with_every_phase_of_every_host(report, tmp_path):
    _out, paths, _journals = report
    url = paths["html"].as_uri()
    dom = chromium("--dump-dom", url, tmp=tmp_path / "profile").stdout
    tracks = dict(
        re.findall(r'<div class="track" data-host="([^"]+)"[^>]*>(.*?)</div>\s*(?=<div class="host"|</div>)', dom, re.S)
    )
    assert sorted(tracks) == list(HOSTS)
    for host, track in tracks.items():
        bars = re.findall(r'data-phase="([a-z]+)" data-component="([a-z]+)"', track)
        assert [phase for phase, component in bars if component == "app"][: len(PHASES)] == list(PHASES), host
    marked = re.findall(r'data-phase="([a-z]+)"[^>]*data-result="(failed|reverted)"', tracks["web3"])
    # The app's failed verify and its revert, and the notification that could not be sent.
    assert sorted(marked) == [("revert", "reverted"), ("run", "failed"), ("verify", "failed")]
    shot = tmp_path / "timeline.png"
    chromium("--window-size=1280,800", "--hide-scrollbars", "--screenshot=%s" % shot, url, tmp=tmp_path / "p2")
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", header[16:24]) == (1280, 800)
    assert shot.stat().st_size > 20000  # bars and text, not a blank page


def test_latest_run_is_the_default_and_unknown_run_is_one_line(fleet):
    tmp, inv, _journals = fleet
    out = ctl(tmp, "report", "-i", str(inv), "-o", str(tmp / "latest"))
    assert out.returncode == 0 and "report of run %s" % RUN in out.stdout, out.stderr
    out = ctl(tmp, "report", "rb-nope", "-i", str(inv))
    assert out.returncode == 2
    assert out.stderr == "rollbackctl: no journal entries for run rb-nope on the hosts read\n"
