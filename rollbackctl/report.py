"""rollbackctl report: the incident report of a run (Markdown, JSON, HTML timeline) from the journals
of all its hosts, read with the status playbook. The report itself is the collection's _report code,
the same the complete rollback writes at its end through the incident_report filter.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rollbackctl.collection import UsageError, collections_path, find_collection


def _plugin_utils(name, state_dir=None):
    """A controller-side module of the collection's plugin_utils, importable from wherever the collection is."""
    root = find_collection()
    path = str(collections_path(state_dir or Path.home() / ".cache" / "rollbackctl", root))
    if path not in sys.path:
        sys.path.insert(0, path)
    import importlib

    return importlib.import_module("ansible_collections.emergency.rollback.plugins.plugin_utils." + name)


def timeline_module(state_dir=None):
    return _plugin_utils("_timeline", state_dir)


def report_module(state_dir=None):
    return _plugin_utils("_report", state_dir)


def build(entries, run_id=None, **kwargs):
    """The report as data; a journal that makes no report is a usage error of rollbackctl."""
    module = report_module()
    try:
        return module.build(entries, run_id, **kwargs)
    except module.ReportError as err:
        raise UsageError(str(err)) from None


def write_all(report, directory, timeline=None):
    return report_module().write_all(report, directory, timeline)


# --- rollbackctl report ---------------------------------------------------------------------------


def add_parser(sub, common):
    report = sub.add_parser("report", help="incident report of a run (Markdown, JSON, HTML timeline)")
    report.add_argument("run", nargs="?", metavar="RUN_ID", help="the run to report on (default: the latest)")
    common(report)
    report.add_argument("-o", "--output", help="directory for the report (default: <state-dir>/reports/<run>)")
    report.add_argument("--rto-target", type=float, metavar="SECONDS", help="RTO target to compare against")
    report.add_argument("--rpo-target", type=float, metavar="SECONDS", help="RPO target to compare against")
    report.add_argument("--started", metavar="ISO_TIME", help="when the clock started (e.g. detection time)")
    return report


def fetch_entries(args):
    """Every journal entry of every host, read with the status playbook (journal_info, all lines)."""
    from rollbackctl.cli import execute, new_run_id, parse_extra_vars

    root = find_collection()
    extravars = parse_extra_vars(args.extra_vars)
    extravars["rollback_status_tail"] = 0
    wanted = args.run
    args.run_id = "report-" + new_run_id()
    runner, _progress, _private = execute(root / "playbooks" / "status.yml", args, extravars, quiet=True)
    entries, unread = [], []
    for event in runner.events:
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_unreachable":
            unread.append(data.get("host"))
        elif event.get("event") == "runner_on_ok" and data.get("task_action", "").endswith("set_fact"):
            status = (data.get("res") or {}).get("ansible_facts", {}).get("rollback_status")
            for entry in (status or {}).get("journal", {}).get("entries") or []:
                # Name hosts as the inventory does; the journal's own host is the target's hostname.
                if entry.get("host") != data.get("host"):
                    entry["machine"], entry["host"] = entry.get("host"), data.get("host")
                entries.append(entry)
    stats = runner.stats or {}
    failed = set(stats.get("failures", {})) | set(stats.get("dark", {}))
    return wanted, entries, sorted(set(unread) | failed)


def cmd_report(args):
    wanted, entries, unread = fetch_entries(args)
    timeline = timeline_module(args.state_dir)
    report = build(
        entries,
        wanted,
        rto_target_s=args.rto_target,
        rpo_target_s=args.rpo_target,
        started=args.started,
        timeline=timeline,
    )
    if unread:
        report["unread_hosts"] = unread
    directory = Path(args.output or Path(args.state_dir).expanduser() / "reports" / report["run_id"])
    paths = write_all(report, directory, timeline)
    print("rollbackctl: report of run %s (%s)" % (report["run_id"], report["verdict"]))
    for form, path in paths.items():
        print("  %-8s %s" % (form, path))
    if unread:
        sys.stderr.write("rollbackctl: journals not read from: %s\n" % ", ".join(unread))
        return 1
    return 0
