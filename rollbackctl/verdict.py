"""Per-host verdicts read from what happened in a run (runner events), and the exit code they give.

Verdicts, one per host:
- verified: a verify step ran and passed (a journal entry with action ``verify``, result ``ok``);
- changed, not verified: something changed but no verify step passed (the reason is shown);
- unchanged, not verified: nothing changed and nothing was verified;
- failed: a task failed and was not rescued (its first error is shown);
- unreachable: the host could not be reached;
- not matched: a name given to --limit that no host of the inventory matched;
- controller: localhost ran only plays that target it by name (announcements, smoke checks, the
  verdict of the complete rollback), changed nothing and failed nothing: it is not a target, and
  its verdict does not count towards the exit code.
A run in which no host matched has no host verdict at all: it is an error of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_VERIFIED = 0, 1, 2, 3
# Bookkeeping tasks report changed: true but change nothing the rollback is about.
BOOKKEEPING = ("journal_record", "lock")
UNMATCHED = re.compile(r"Could not match supplied host pattern, ignoring: (\S+)")
NO_HOSTS = re.compile(r"no hosts to target|could not match supplied host pattern|no hosts matched", re.I)
ERROR_LINE = re.compile(r"^\s*(ERROR!|\[ERROR\]:|fatal:|\[WARNING\]: Could not match supplied host pattern)")


@dataclass
class Host:
    name: str
    matched: bool = True
    changed: int = 0
    failed: list = field(default_factory=list)  # (task, message)
    unreachable: str | None = None
    verified: list = field(default_factory=list)  # summaries of passed verify steps
    not_verified: list = field(default_factory=list)  # why verification did not happen
    plays: set = field(default_factory=set)  # hosts patterns of the plays it ran tasks in

    def verdict(self, check=False):
        """(word, detail) for this host."""
        if not self.matched:
            return "not matched", "no host of the inventory is called so"
        if self.unreachable is not None:
            return "unreachable", self.unreachable
        if self.failed:
            task, message = self.failed[0]
            return "failed", "%s: %s" % (task, message) if task else message
        if self.plays == {"localhost"} and not (self.changed or self.verified or self.not_verified):
            return "controller", "ran only the plays on localhost, changed nothing"
        if check:
            return ("would change" if self.changed else "unchanged"), ""
        if self.verified and not self.not_verified:
            return "verified", "; ".join(self.verified)
        why = "; ".join(self.not_verified) or "not verified: no verify step ran"
        return ("changed, not verified" if self.changed else "unchanged, not verified"), why


@dataclass
class Outcome:
    hosts: dict = field(default_factory=dict)
    patterns: list = field(default_factory=list)  # hosts patterns of the plays
    no_hosts_matched: list = field(default_factory=list)  # patterns of plays with no host
    errors: list = field(default_factory=list)  # ansible-playbook's own error lines

    def host(self, name):
        if name not in self.hosts:
            self.hosts[name] = Host(name)
        return self.hosts[name]

    def no_host_matched(self):
        """True when hosts patterns or --limit matched nothing (not when the playbook failed to load)."""
        if not any(h.matched for h in self.hosts.values()) and self.hosts:
            return True
        return bool(self.no_hosts_matched) or any(NO_HOSTS.search(line) for line in self.errors)

    def exit_code(self, rc, check=False):
        if rc != 0 or not any(h.matched for h in self.hosts.values()):
            return EXIT_FAILED
        words = [h.verdict(check)[0] for h in self.hosts.values()]
        if any(w in ("failed", "unreachable", "not matched") for w in words):
            return EXIT_FAILED
        if check:
            return EXIT_OK
        targets = [w for w in words if w != "controller"]
        return EXIT_OK if targets and all(w == "verified" for w in targets) else EXIT_NOT_VERIFIED


def _message(res):
    text = res.get("msg") or res.get("stderr") or res.get("reason") or ""
    if not text and res.get("results"):  # a loop: the first item that failed
        for item in res["results"]:
            if isinstance(item, dict) and item.get("failed"):
                text = item.get("msg") or item.get("stderr") or ""
                break
    return " ".join(str(text).split())


def read_events(events, stdout_text="", limit=None):
    """Build the Outcome of a run from ansible-runner events and ansible-playbook's output."""
    out = Outcome()
    pattern = None
    for event in events:
        kind = event.get("event")
        data = event.get("event_data") or {}
        host = data.get("host")
        res = data.get("res") or {}
        if host and (kind or "").startswith("runner_"):
            out.host(host).plays.add(pattern)
        if kind == "playbook_on_play_start":
            pattern = data.get("pattern") or data.get("play_pattern")
            if pattern and pattern not in out.patterns:
                out.patterns.append(pattern)
        elif kind == "playbook_on_no_hosts_matched":
            out.no_hosts_matched.append(data.get("play_pattern") or data.get("pattern") or "?")
        elif kind == "runner_on_unreachable" and host:
            out.host(host).unreachable = _message(res) or "unreachable"
        elif kind == "runner_on_failed" and host:
            entry = out.host(host)
            if not data.get("ignore_errors"):
                entry.failed.append((data.get("task") or data.get("task_action") or "", _message(res)))
        elif kind in ("runner_on_ok", "runner_on_skipped", "runner_item_on_ok") and host:
            entry = out.host(host)
            action = (data.get("task_action") or "").rsplit(".", 1)[-1]
            if kind == "runner_on_ok" and res.get("changed") and action not in BOOKKEEPING:
                entry.changed += 1
            journal = res.get("journal_entry")
            if kind == "runner_on_ok" and isinstance(journal, dict) and journal.get("action") == "verify":
                summary = journal.get("message") or journal.get("component") or "verify"
                label = "%s: %s" % (journal.get("component"), summary) if journal.get("component") else summary
                if journal.get("result") == "ok":
                    entry.verified.append(label)
                elif journal.get("result") == "not_verified":
                    entry.not_verified.append(label)
    # A failure a rescue handled is not the host's verdict: the host failed only when
    # ansible's own recap counts a failure for it.
    stats = next((e.get("event_data") or {} for e in events if e.get("event") == "playbook_on_stats"), None)
    if stats is not None:
        failures = {h for h, n in (stats.get("failures") or {}).items() if n}
        for name, entry in out.hosts.items():
            if name not in failures:
                entry.failed = []
    lines = stdout_text.splitlines()
    for n, line in enumerate(lines):
        if ERROR_LINE.match(line):
            text = " ".join(line.split())
            # ansible-core 2.19 puts where the error is on the next line
            if n + 1 < len(lines) and lines[n + 1].startswith("Origin:"):
                text += " (%s)" % lines[n + 1].strip()
            out.errors.append(text)
        unmatched = UNMATCHED.search(line)
        if unmatched and limit and unmatched.group(1) in limit.split(","):
            out.host(unmatched.group(1)).matched = False
    return out
