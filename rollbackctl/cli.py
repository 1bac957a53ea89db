"""rollbackctl: run, plan and inspect emergency.rollback playbooks through ansible-runner.

Exit status of `run`:
  0  every targeted host verified (a verify step ran and passed on it)
  1  a host failed, was unreachable or not matched (--limit), ansible-playbook itself failed,
     or no host matched
  2  bad arguments (one line on stderr)
  3  no host failed, but at least one was not verified (changed or not); the verdict says why
`plan` exits 0 unless a host failed (1). `status` exits 1 when no host matched or one was unreachable.
Cron jobs and AWX templates should treat anything but 0 as "look at this run".
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import uuid
from pathlib import Path

import yaml

from rollbackctl import container, live, report, survey
from rollbackctl.collection import (
    UsageError,
    check_inventory,
    collections_path,
    find_collection,
    resolve_playbook,
)
from rollbackctl.progress import Progress, one_line
from rollbackctl.verdict import EXIT_FAILED, read_events

DEFAULT_STATE = os.path.join(os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "rollbackctl")


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def new_run_id():
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    return "rb-%s-%s" % (stamp, uuid.uuid4().hex[:6])


def parse_extra_vars(items):
    """-e k=v (v read as YAML, so lists work: app_health_urls=[http://a,http://b]), JSON, or -e @file.yml.

    Several pairs in one -e are split as a shell would (shlex): -e 'a=1 b="two words"'.
    """
    extra = {}
    for item in items or []:
        if item.startswith("@"):
            path = Path(item[1:])
            if not path.is_file():
                raise UsageError("extra vars file not found: %s" % path)
            data = yaml.safe_load(path.read_text()) or {}
            if not isinstance(data, dict):
                raise UsageError("extra vars file %s must hold a mapping" % path)
            extra.update(data)
            continue
        if item.lstrip().startswith("{"):
            try:
                data = json.loads(item)
            except ValueError as err:
                raise UsageError("extra vars %r are not valid JSON: %s" % (item, err)) from None
            extra.update(data)
            continue
        try:
            pairs = shlex.split(item)
        except ValueError as err:
            raise UsageError("extra vars %r: %s" % (item, err)) from None
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise UsageError("extra var %r is not key=value" % pair)
            try:
                extra[key] = yaml.safe_load(value) if value else ""
            except yaml.YAMLError:
                extra[key] = value
    return extra


EPILOG = """\
verdicts (one per host, after `run`):
  verified                 a verify step ran and passed
  changed, not verified    something changed, nothing was verified (the reason is printed)
  unchanged, not verified  nothing changed and nothing was verified
  failed / unreachable     with ansible-playbook's first error for that host
  not matched              a --limit name no inventory host has (exit 1)
  controller               localhost ran only the plays on localhost and changed nothing
                           (the complete rollback's announcements and smoke checks): not counted

exit status of run:
  0  every host verified    1  failed, unreachable, or no host matched
  2  bad arguments          3  not verified on at least one host (nothing failed)
  plan exits 0 unless a host failed; cron and AWX should treat anything but 0 as an alert.

extra vars: -e key=value (value read as YAML), several pairs in one -e split as a shell
would: -e 'app_reason="bad deploy" app_rollback_to="2026-11-20 release"', JSON, or -e @file.yml.
"""


def build_parser():
    parser = Parser(
        prog="rollbackctl",
        description="Emergency rollbacks you can trust at 3 a.m.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--state-dir",
        default=os.environ.get("ROLLBACKCTL_STATE_DIR", DEFAULT_STATE),
        help="where run artifacts are kept (default: %(default)s)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def common(p):
        p.add_argument("-i", "--inventory", required=True, help="inventory file or directory")
        p.add_argument("-l", "--limit", help="only these hosts or groups (as ansible-playbook --limit)")
        p.add_argument(
            "-e",
            "--extra-vars",
            action="append",
            default=[],
            metavar="K=V|@FILE",
            help="extra variables; repeatable; quote values with spaces: -e 'key=\"value with spaces\"'",
        )
        p.add_argument("-v", "--verbose", action="count", default=0)
        p.add_argument("--run-id", help="identifier of this run (default: generated)")
        container.add_arguments(p)

    run = sub.add_parser("run", help="run a rollback playbook")
    run.add_argument("playbook", help="a collection playbook (app, database, verify, ...) or a path")
    common(run)
    run.add_argument("--check", action="store_true", help="change nothing, report what would change")
    run.add_argument("--diff", action="store_true", help="show the differences")

    plan = sub.add_parser("plan", help="what a rollback would do: run --check --diff")
    plan.add_argument("playbook")
    common(plan)

    status = sub.add_parser("status", help="lock holder and journal tail per host")
    common(status)
    status.add_argument("--tail", type=int, default=10, help="journal entries per host (default: %(default)s)")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    report.add_parser(sub, common)
    survey.add_parser(sub)
    return parser


def runner_env(state_dir, root):
    """ansible-playbook from this interpreter's bin dir, the collection on the collections path."""
    bin_dir = os.path.dirname(os.path.abspath(sys.executable))
    path = os.environ.get("PATH", "")
    if not path.startswith(bin_dir + os.pathsep):
        path = bin_dir + os.pathsep + path
    os.environ["PATH"] = path  # ansible-runner looks ansible-playbook up on PATH before it uses envvars
    configured = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")
    cpath = str(collections_path(state_dir, root)) + (os.pathsep + configured if configured else "")
    return {
        "PATH": path,
        "ANSIBLE_COLLECTIONS_PATH": cpath,
        "ANSIBLE_ROLES_PATH": str(root / "roles"),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        # The per-task events rollbackctl reads come through ansible-runner's display callback,
        # which wraps the configured stdout callback; callbacks that print nothing per task
        # (json, minimal, ...) would leave it without events, so the default one is forced.
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
    }


def execute(playbook, args, extravars, check=False, diff=False, quiet=False, progress=None):
    """Run a playbook through ansible-runner; returns (runner, progress, private_data_dir)."""
    import ansible_runner

    root = find_collection()
    inventory = check_inventory(args.inventory)
    playbook_path = resolve_playbook(playbook, root) if not isinstance(playbook, Path) else playbook
    state_dir = Path(args.state_dir).expanduser().resolve()
    run_id = args.run_id or new_run_id()
    private = state_dir / "runs" / run_id
    if private.exists():
        raise UsageError("run %s already exists in %s: pick another --run-id" % (run_id, private))
    container.check_arguments(args)
    private.mkdir(parents=True)
    env = runner_env(state_dir, root)
    isolation = {"inventory": inventory, "envvars": env}
    if args.container_image:
        isolation = container.isolation(args, env, collections_path(state_dir, root), root, playbook_path, private)
    extra = {"rollback_run_id": run_id}
    extra.update(extravars)
    cmdline = []
    if check:
        cmdline.append("--check")
    if diff:
        cmdline.append("--diff")
    progress = progress or (Progress(stream=sys.stderr) if quiet else live.progress_for(sys.stdout))
    if not quiet:
        mode = " (check mode, nothing changes)" if check else ""
        mode += " in %s" % args.container_image if args.container_image else ""
        progress.write("rollbackctl: run %s: %s on %s%s" % (run_id, playbook_path.name, args.inventory, mode))
        progress.write("rollbackctl: artifacts in %s" % artifact_dir(private, run_id))
    limit = controller_limit(playbook_path, args.limit)
    if limit != args.limit and not quiet:
        note = "rollbackctl: --limit %s runs as %s: the playbook has plays on the controller"
        progress.write(note % (args.limit, limit))
    runner = ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(playbook_path),
        limit=limit,
        extravars=extra,
        cmdline=" ".join(cmdline) or None,
        quiet=True,
        verbosity=args.verbose or None,
        event_handler=None if quiet else progress,
        ident=run_id,
        **isolation,
    )
    return runner, progress, artifact_dir(private, run_id)


def controller_limit(playbook_path, limit):
    """--limit with localhost added when the playbook has plays on the controller.

    A limit applies to every play, so `--limit web2` would skip the plays that announce, verify and
    decide on localhost; rollback_complete refuses such a limit, rollbackctl keeps the controller in.
    """
    if not limit or "localhost" in limit.replace(":", ",").split(","):
        return limit
    try:
        plays = yaml.safe_load(playbook_path.read_text()) or []
    except (OSError, yaml.YAMLError):
        return limit
    hosts = [play.get("hosts") for play in plays if isinstance(play, dict)]
    imports = [play.get("ansible.builtin.import_playbook") or play.get("import_playbook") for play in plays]
    for name in filter(None, imports):
        if controller_limit(playbook_path.parent / name, limit) != limit:
            return limit + ",localhost"
    return limit + ",localhost" if "localhost" in hosts else limit


def artifact_dir(private, run_id):
    """Where ansible-runner writes this run's stdout, events and status."""
    return private / "artifacts" / run_id


def run_outcome(runner, limit=None):
    stdout = ""
    path = Path(runner.config.artifact_dir) / "stdout"
    if path.is_file():
        stdout = path.read_text(encoding="utf-8", errors="replace")
    return read_events(list(runner.events), stdout, limit=limit)


def no_host_line(args, outcome):
    pattern = ", ".join(outcome.no_hosts_matched or outcome.patterns) or "the playbook's hosts"
    limit = " with --limit %s" % args.limit if args.limit else ""
    return "rollbackctl: no host matched %s%s in inventory %s" % (pattern, limit, args.inventory)


def cmd_run(args, check=False, diff=False):
    extravars = parse_extra_vars(args.extra_vars)
    runner, progress, artifacts = execute(args.playbook, args, extravars, check=check, diff=diff)
    outcome = run_outcome(runner, args.limit)
    code = outcome.exit_code(runner.rc, check=check)
    if not any(h.matched for h in outcome.hosts.values()):
        failure = args.container_image and container.start_failure(args, runner)
        if failure:
            progress.write("rollbackctl: %s" % failure)
        elif outcome.no_host_matched() or not outcome.errors:
            progress.write(no_host_line(args, outcome))
        else:
            progress.write("rollbackctl: ansible-playbook exited %s before any host ran:" % runner.rc)
            for line in outcome.errors[:3]:
                progress.write("  %s" % one_line(line))
        return EXIT_FAILED
    progress.summary(runner.stats)
    progress.write("")
    for name in sorted(outcome.hosts):
        word, detail = outcome.hosts[name].verdict(check)
        line = "%s => %s" % (name, progress.paint(word.split(",")[0], word))
        progress.write(line + (": %s" % one_line(detail) if detail else ""))
    if outcome.hosts and runner.rc != 0 and not any(h.failed or h.unreachable for h in outcome.hosts.values()):
        for line in outcome.errors[:3]:  # ansible-playbook failed outside any host's task
            progress.write("  %s" % one_line(line))
    if code == 0:
        progress.write("rollbackctl: %s" % ("plan complete, nothing changed" if check else "all hosts verified"))
    elif code == EXIT_FAILED:
        progress.write(
            "rollbackctl: run did NOT verify (ansible-playbook exited %s); artifacts in %s" % (runner.rc, artifacts)
        )
    else:
        progress.write("rollbackctl: run finished but NOT every host was verified (exit %d); see above" % code)
    return code


def cmd_status(args):
    root = find_collection()
    extravars = parse_extra_vars(args.extra_vars)
    extravars["rollback_status_tail"] = args.tail
    args.run_id = args.run_id or "status-" + new_run_id()
    runner, _progress, _artifacts = execute(root / "playbooks" / "status.yml", args, extravars, quiet=True)
    per_host = {}
    for event in runner.events:
        data = event.get("event_data", {})
        host = data.get("host")
        if event.get("event") == "runner_on_unreachable":
            per_host[host] = {"unreachable": one_line((data.get("res") or {}).get("msg", ""))}
        elif event.get("event") == "runner_on_ok" and data.get("task_action", "").endswith("set_fact"):
            status = (data.get("res") or {}).get("ansible_facts", {}).get("rollback_status")
            if status is not None:
                per_host[host] = status
    if args.json:
        print(json.dumps(per_host, indent=2, sort_keys=True, default=str))
    else:
        print_status(per_host)
    outcome = run_outcome(runner, args.limit)
    if not any(h.matched for h in outcome.hosts.values()):
        first = outcome.errors[0] if outcome.errors and not outcome.no_host_matched() else None
        first = (args.container_image and container.start_failure(args, runner)) or first
        sys.stderr.write((("rollbackctl: %s" % one_line(first)) if first else no_host_line(args, outcome)) + "\n")
        return EXIT_FAILED
    bad = any(h.failed or h.unreachable or not h.matched for h in outcome.hosts.values())
    return EXIT_FAILED if bad or runner.rc != 0 else 0


def print_status(per_host):
    for host in sorted(per_host):
        status = per_host[host]
        print("== %s" % host)
        if "unreachable" in status:
            print("  unreachable: %s" % status["unreachable"])
            continue
        lock = status.get("lock")
        if lock:
            print(
                "  lock: held by run %s (pid %s on %s, %s)"
                % (lock.get("run_id"), lock.get("pid"), lock.get("machine"), lock.get("user"))
            )
        else:
            print("  lock: free")
        for release in status.get("releases") or []:
            marks = []
            if release.get("live"):
                marks.append("LIVE")
            if release.get("bad"):
                marks.append("BAD")
            print("  release %-24s %s" % (release.get("id"), " ".join(marks)))
        copies = status.get("safety_copies") or []
        if copies:
            print("  safety copies (kept to undo a rollback; delete only on purpose):")
            for copy in copies:
                since = " since %s" % copy["since"] if copy.get("since") else ""
                print("    %-30s %s (of %s)%s" % (copy.get("kind"), copy.get("name"), copy.get("of") or "-", since))
        journal = status.get("journal") or {}
        problems = journal.get("problems") or []
        if problems:
            print("  journal: %d unreadable line(s): %s" % (len(problems), ", ".join(str(p["line"]) for p in problems)))
        entries = journal.get("entries") or []
        print("  journal: %d entries, last %d:" % (journal.get("total", 0), len(entries)))
        for e in entries:
            change = ""
            if e.get("from") or e.get("to"):
                change = " %s -> %s" % (e.get("from") or "-", e.get("to") or "-")
            took = " %.2fs" % e["duration_s"] if isinstance(e.get("duration_s"), (int, float)) else ""
            print(
                "    %s %-8s %-10s %-14s %-8s%s%s"
                % (
                    e.get("ts"),
                    e.get("run_id") or "-",
                    e.get("component"),
                    e.get("action"),
                    e.get("result"),
                    change,
                    took,
                )
            )


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":
            return cmd_run(args, check=args.check, diff=args.diff)
        if args.command == "plan":
            return cmd_run(args, check=True, diff=True)
        if args.command == "report":
            return report.cmd_report(args)
        if args.command == "survey":
            return survey.cmd_survey(args)
        return cmd_status(args)
    except UsageError as err:
        sys.stderr.write("rollbackctl: %s\n" % err)
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("rollbackctl: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
