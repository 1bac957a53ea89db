"""Live progress from ansible-runner events: a line per task and host, a summary table at the end."""

from __future__ import annotations

import difflib
import json
import sys
import time

STATUS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "unreachable",
}
COLOURS = {"ok": "32", "changed": "33", "failed": "31", "unreachable": "31", "skipped": "36", "ignored": "35"}
COLUMNS = ("ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored")


def one_line(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Progress:
    def __init__(self, stream=None, colour=None):
        self.stream = stream or sys.stdout
        self.colour = self.stream.isatty() if colour is None else colour
        self.started = time.monotonic()
        self.play = None
        self.results = []  # (host, task, status, duration, message)

    def paint(self, status, text=None):
        text = status if text is None else text
        if not self.colour or status not in COLOURS:
            return text
        return "\033[%sm%s\033[0m" % (COLOURS[status], text)

    def write(self, line):
        self.stream.write(line + "\n")
        self.stream.flush()

    def __call__(self, event):
        """ansible-runner event_handler: print what matters, keep the event."""
        kind = event.get("event")
        data = event.get("event_data", {})
        if kind == "playbook_on_play_start":
            self.play = data.get("play") or data.get("name")
            self.write("PLAY %s" % self.play)
        elif kind in STATUS:
            self._result(kind, data)
        return True

    @staticmethod
    def status_of(kind, data):
        """ok / changed / failed / ignored / skipped / unreachable of one result event."""
        status = STATUS[kind]
        if status == "ok" and (data.get("res") or {}).get("changed"):
            return "changed"
        if status == "failed" and data.get("ignore_errors"):
            return "ignored"
        return status

    def _result(self, kind, data):
        res = data.get("res") or {}
        status = self.status_of(kind, data)
        duration = data.get("duration")
        message = ""
        if status in ("failed", "unreachable", "ignored"):
            message = res.get("msg") or res.get("stderr") or res.get("reason") or ""
        elif data.get("task_action", "").endswith("debug") and "msg" in res:
            message = res["msg"] if isinstance(res["msg"], str) else repr(res["msg"])
        elif status == "skipped":
            message = res.get("skip_reason", "") if res.get("skip_reason") != "Conditional result was False" else ""
        host = data.get("host", "?")
        task = data.get("task") or data.get("task_action", "")
        self.results.append((host, task, status, duration, message))
        took = " (%.2fs)" % duration if isinstance(duration, (int, float)) else ""
        line = "  %-20s %-11s %s%s" % (host, self.paint(status, "%-11s" % status).rstrip(), task, took)
        if message:
            line += "\n  %-20s %-11s -> %s" % ("", "", one_line(message))
        if status == "changed" and res.get("diff"):
            line = "\n".join([line, *("  %-20s %-11s %s" % ("", "", d) for d in diff_lines(res["diff"]))])
        self.write(line)

    def summary(self, stats):
        """Table of the per-host counters of ansible's play recap."""
        hosts = sorted({h for col in COLUMNS for h in (stats or {}).get(_stat_key(col), {})})
        self.write("")
        self.write("%-20s " % "HOST" + " ".join("%11s" % c for c in COLUMNS))
        for host in hosts:
            cells = []
            for col in COLUMNS:
                value = (stats or {}).get(_stat_key(col), {}).get(host, 0)
                cell = "%11d" % value
                cells.append(self.paint(col, cell) if value and col != "ok" else cell)
            self.write("%-20s " % host + " ".join(cells))
        self.write("elapsed %.1fs" % (time.monotonic() - self.started))
        return hosts


def diff_lines(diff, limit=40):
    """A task's diff as ansible-playbook --diff shows it, in unified form and at most `limit` lines."""
    lines = []
    for item in diff if isinstance(diff, list) else [diff]:
        if not isinstance(item, dict):
            continue
        if item.get("prepared"):
            lines.extend(str(item["prepared"]).splitlines())
            continue
        before, after = item.get("before"), item.get("after")
        if before is None and after is None:
            continue
        before = before if isinstance(before, str) else _text(before)
        after = after if isinstance(after, str) else _text(after)
        lines.extend(
            line.rstrip("\n")
            for line in difflib.unified_diff(
                before.splitlines(True),
                after.splitlines(True),
                fromfile=item.get("before_header") or "before",
                tofile=item.get("after_header") or "after",
                n=1,
            )
        )
    if len(lines) > limit:
        lines = lines[:limit] + ["... (%d more diff lines in the artifacts)" % (len(lines) - limit)]
    return lines


def _text(value):
    return json.dumps(value, indent=2, sort_keys=True, default=str) + "\n"


def _stat_key(col):
    return {"ok": "ok", "changed": "changed", "failed": "failures", "unreachable": "dark"}.get(col, col)
