"""Live view of a run on a terminal: hosts x phase, state, elapsed and current task, redrawn in place.

Output that is not a terminal (a pipe, cron, AWX's job log) keeps Progress' plain lines.
"""

from __future__ import annotations

import os
import re
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from rollbackctl.progress import STATUS, Progress, one_line

# The roles' run frame names its phase tasks "Enter the phase <phase>".
PHASE_TASK = re.compile(r"^Enter the phase (\w+)")
STYLES = {"running": "bold cyan", "ok": "green", "changed": "yellow", "failed": "bold red", "unreachable": "bold red"}
WORST = ("unreachable", "failed", "changed", "ok", "running", "waiting")


def progress_for(stream):
    """A LiveView on a terminal, plain lines otherwise."""
    if stream.isatty() and os.environ.get("TERM", "dumb") != "dumb":
        return LiveView(stream)
    return Progress(stream=stream)


class LiveView(Progress):
    def __init__(self, stream):
        super().__init__(stream=stream, colour=True)
        self.console = Console(file=stream, force_terminal=True, highlight=False)
        self.hosts = {}
        self.live = None

    def _row(self, host):
        return self.hosts.setdefault(
            host, {"phase": self.play or "-", "state": "waiting", "since": time.monotonic(), "task": "", "end": None}
        )

    def render(self):
        table = Table(title="rollbackctl: %s" % (self.play or "starting"), title_justify="left", expand=False)
        for column in ("HOST", "PHASE", "STATE", "ELAPSED", "TASK"):
            table.add_column(column, no_wrap=True, overflow="ellipsis", max_width=60 if column == "TASK" else None)
        now = time.monotonic()
        for host in sorted(self.hosts):
            row = self.hosts[host]
            elapsed = (row["end"] or now) - row["since"]
            state = row["state"]
            table.add_row(
                host,
                row["phase"],
                "[%s]%s[/]" % (STYLES.get(state, ""), state) if state in STYLES else state,
                "%.1fs" % elapsed,
                row["task"],
            )
        table.caption = "elapsed %.1fs" % (now - self.started)
        return table

    def _start(self):
        if self.live is None:
            self.live = Live(get_renderable=self.render, console=self.console, refresh_per_second=4, transient=False)
            self.live.start()

    def write(self, line):
        if self.live is not None:
            self.live.console.print(line, markup=False, highlight=False)
        else:
            super().write(line)

    def __call__(self, event):
        kind = event.get("event")
        data = event.get("event_data", {})
        if kind == "playbook_on_play_start":
            self.play = data.get("play") or data.get("name")
            self._start()
        elif kind == "runner_on_start":
            row = self._row(data.get("host", "?"))
            task = data.get("task") or data.get("task_action", "")
            match = PHASE_TASK.match(task)
            if match:
                row["phase"] = ("%s %s" % (data.get("role") or "", match.group(1))).strip()
            elif not data.get("role"):
                row["phase"] = self.play or "-"
            if row["state"] not in ("failed", "unreachable"):
                row["state"] = "running"
            row["task"] = task
        elif kind in STATUS:
            self._record(kind, data)
        return True

    def _record(self, kind, data):
        res = data.get("res") or {}
        status = self.status_of(kind, data)
        host, task = data.get("host", "?"), data.get("task") or data.get("task_action", "")
        message = (
            res.get("msg") or res.get("stderr") or res.get("reason") or ""
            if status in ("failed", "unreachable")
            else ""
        )
        self.results.append((host, task, status, data.get("duration"), message))
        row = self._row(host)
        if status in ("failed", "unreachable"):
            row["state"] = status
            # Failures stay on screen above the view, as plain lines.
            self.write("%s %s: %s: %s" % (host, status, task, one_line(message)))
        elif row["state"] not in ("failed", "unreachable") and status != "skipped":
            row["state"] = "changed" if status == "changed" or row["state"] == "changed" else "ok"

    def summary(self, stats):
        if self.live is not None:
            for row in self.hosts.values():
                row["end"] = row["end"] or time.monotonic()
                if row["state"] == "running":
                    row["state"] = "ok"
                row["task"] = ""
            self.live.refresh()
            self.live.stop()
            self.live = None
        return super().summary(stats)
