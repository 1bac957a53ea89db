# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Incident report of a run, from the journals of all its hosts: Markdown, JSON and an HTML timeline.

PRIVATE to this collection: the leading underscore means no API promise. Controller side: used by
the incident_report filter (the complete rollback writes the report at its end) and by
``rollbackctl report``. The numbers come from the journal through _timeline, the same code the
rto_summary and phase_durations filters use; the sections only people can write (root cause,
lessons, action items) are left empty on purpose.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import jinja2

from ansible_collections.emergency.rollback.plugins.plugin_utils import _timeline


class ReportError(ValueError):
    """The journals given cannot make a report (no run, unreadable entries)."""


SCHEMA_VERSION = 1
PHASE_COLOURS = {
    "preflight": "#8da0cb",
    "snapshot": "#66c2a5",
    "rollback": "#fc8d62",
    "verify": "#a6d854",
    "revert": "#ffd92f",
    "run": "#b3b3b3",
}


def latest_run_id(entries):
    runs = [e for e in entries if e.get("run_id") and e.get("ts")]
    if not runs:
        raise ReportError("no journal entry names a run: nothing to report")
    return max(runs, key=lambda e: e["ts"])["run_id"]


def build(entries, run_id=None, rto_target_s=None, rpo_target_s=None, started=None, timeline=None, journal_gaps=()):
    """The report as data (what the JSON form holds and the other two forms show). journal_gaps: steps
    whose journal line could not be written (the run knows them, the journals cannot)."""
    timeline = timeline or _timeline
    run_id = run_id or latest_run_id(entries)
    entries = sorted((e for e in entries if e.get("run_id") == run_id), key=lambda e: (e["ts"], e["host"]))
    if not entries:
        raise ReportError("no journal entries for run %s on the hosts read" % run_id)
    try:
        summary = timeline.rto(entries, started=started, target_s=rto_target_s, rpo_target_s=rpo_target_s)
        hosts = timeline.verdicts(entries)
        phases = timeline.phases(entries)
    except timeline.TimelineError as err:
        raise ReportError("cannot read the journals of run %s: %s" % (run_id, err)) from None
    verdict = (
        "verified" if summary["verified"] else next(v for v in timeline.VERDICT_ORDER if summary["verdicts"].get(v))
    )
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "generated": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "verdict": verdict,
        "summary": summary,
        "journal_gaps": list(journal_gaps or ()),
        "decision": [
            _step(e) | {"details": e.get("details")}
            for e in entries
            if e["action"] in ("trigger", "analysis", "decision")
        ],
        "hosts": hosts,
        "phases": phases,
        "versions": [
            _step(e) for e in entries if (e.get("from") or e.get("to")) and e["action"] not in ("trigger", "analysis")
        ],
        "snapshots": [_step(e) for e in entries if e.get("snapshot")],
        "verification": [_step(e) for e in entries if e["action"] == "verify"],
        "anomalies": [_step(e) for e in entries if e["result"] in ("failed", "reverted", "not_verified")],
        "timeline": [_step(e) for e in entries],
        "human": {"root_cause": None, "lessons": None, "action_items": []},
    }


def _step(entry):
    keys = ("ts", "host", "component", "action", "from", "to", "snapshot", "duration_s", "result", "message")
    return {k: entry.get(k) for k in keys}


# --- Markdown -----------------------------------------------------------------------------------


def _cell(value):
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(headers, rows):
    lines = ["| %s |" % " | ".join(headers), "|" + "---|" * len(headers)]
    lines += ["| %s |" % " | ".join(_cell(v) for v in row) for row in rows]
    return "\n".join(lines) if rows else "_none_"


def _seconds(value):
    return "n/a" if value is None else "%.1f s" % value


def _target(achieved, target, met):
    if target is None:
        return "%s (no target set)" % _seconds(achieved)
    return "%s vs target %s: %s" % (_seconds(achieved), _seconds(target), "met" if met else "MISSED")


def _journal_state(report):
    gaps = report.get("journal_gaps") or []
    return "**incomplete**: %s" % "; ".join(gaps) if gaps else "every step of the run journaled"


def render_markdown(report):
    s = report["summary"]
    out = [
        "# Incident report: rollback run %s" % report["run_id"],
        "",
        "_Generated %s from the journals of %d host(s); schema version %d._"
        % (report["generated"], s["hosts"], report["schema_version"]),
        "",
        "## Summary",
        "",
        "- Result: **%s** (%s)" % (report["verdict"], ", ".join("%s: %d" % kv for kv in s["verdicts"].items())),
        "- Started %s, ended %s" % (s["started"], s["ended"]),
        "- RTO achieved: %s" % _target(s["rto_s"], s["rto_target_s"], s["rto_met"]),
        "- RPO achieved: %s" % _target(s["rpo_s"], s["rpo_target_s"], s["rpo_met"]),
        "- Journal: %s" % _journal_state(report),
        "",
        "## Trigger and decision",
        "",
        _table(
            ["time", "host", "what", "result", "measured"],
            [(d["ts"], d["host"], d["action"], d["to"] or d["result"], d["message"]) for d in report["decision"]],
        )
        if report["decision"]
        else "_No analysis or decision was journaled in this run._",
        "",
        "## Scope and per-host results",
        "",
        _table(
            ["host", "verdict", "components", "reverted"],
            [
                (
                    host,
                    h["verdict"],
                    ", ".join("%s: %s" % kv for kv in sorted(h["components"].items())),
                    "; ".join(h["reverted"]),
                )
                for host, h in report["hosts"].items()
            ],
        ),
        "",
        "## Versions before -> after",
        "",
        _table(
            ["host", "component", "action", "before", "after", "result"],
            [(v["host"], v["component"], v["action"], v["from"], v["to"], v["result"]) for v in report["versions"]],
        ),
        "",
        "## Snapshots and recovery point",
        "",
        _table(
            ["host", "component", "action", "snapshot"],
            [(v["host"], v["component"], v["action"], v["snapshot"]) for v in report["snapshots"]],
        ),
        "",
        "Recovery point: "
        + (
            ", ".join("%s %s from %s" % (p["host"], p["component"], p["snapshot"]) for p in s["recovery_points"])
            or "no restore from a snapshot in this run"
        ),
        "",
        "## Timeline",
        "",
        "### Phases per host",
        "",
        _table(
            ["host", "component", "phase", "start", "end", "duration", "result"],
            [
                (host, b["component"], b["phase"], b["start"], b["end"], _seconds(b["duration_s"]), b["result"])
                for host, bars in report["phases"].items()
                for b in bars
            ],
        ),
        "",
        "### Every journaled step",
        "",
        _table(
            ["time", "host", "component", "action", "result", "message"],
            [(e["ts"], e["host"], e["component"], e["action"], e["result"], e["message"]) for e in report["timeline"]],
        ),
        "",
        "## Verification",
        "",
        _table(
            ["host", "component", "result", "message"],
            [(v["host"], v["component"], v["result"], v["message"]) for v in report["verification"]],
        ),
        "",
        "## Anomalies",
        "",
        _table(
            ["time", "host", "component", "action", "result", "message"],
            [(a["ts"], a["host"], a["component"], a["action"], a["result"], a["message"]) for a in report["anomalies"]],
        ),
        "",
        "## Root cause",
        "",
        "_To be written by the people who handled the incident._",
        "",
        "## Lessons learned",
        "",
        "_To be written._",
        "",
        "## Action items",
        "",
        "| action | owner | due |",
        "|---|---|---|",
        "",
    ]
    return "\n".join(out)


# --- HTML -----------------------------------------------------------------------------------------


def _lanes(bars):
    """Give overlapping bars of one host their own lane, so none hides another."""
    ends = []
    for bar in bars:
        for lane, end in enumerate(ends):
            if bar["start"] >= end:
                bar["lane"], ends[lane] = lane, bar["end"]
                break
        else:
            bar["lane"] = len(ends)
            ends.append(bar["end"])
    return max(len(ends), 1)


def html_rows(report, timeline=None):
    timeline = timeline or _timeline
    s = report["summary"]
    t0, t1 = timeline.parse_ts(s["started"]), timeline.parse_ts(s["ended"])
    span = max((t1 - t0).total_seconds(), 0.001)
    rows = []
    for host, bars in report["phases"].items():
        bars = [dict(b) for b in bars]
        lanes = _lanes(bars)
        for bar in bars:
            start = (timeline.parse_ts(bar["start"]) - t0).total_seconds()
            bar["left"] = round(100 * max(start, 0) / span, 3)
            bar["width"] = round(max(100 * bar["duration_s"] / span, 0.4), 3)
            bar["colour"] = PHASE_COLOURS.get(bar["phase"], "#cccccc")
        rows.append(
            {"host": host, "verdict": report["hosts"].get(host, {}).get("verdict"), "bars": bars, "lanes": lanes}
        )
    ticks = [{"left": p, "label": "%.0f s" % (span * p / 100)} for p in (0, 25, 50, 75, 100)]
    return rows, ticks


HTML = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Rollback {{ r.run_id }}: {{ r.verdict }}</title>
<style>
body{font:14px/1.35 system-ui,sans-serif;margin:16px 24px;color:#222}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:18px 0 6px}
.meta{color:#555;margin-bottom:10px}
.verdict{font-weight:bold;padding:1px 6px;border-radius:3px}
.v-verified{background:#c8e6c9} .v-failed{background:#ffcdd2} .v-other{background:#fff3c4}
.tl{display:grid;grid-template-columns:150px 1fr;row-gap:4px;align-items:center}
.host{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.host small{display:block;font-weight:normal;color:#555}
.track{position:relative;background:#f4f4f4;border-radius:3px}
.bar{position:absolute;height:20px;border-radius:3px;font-size:11px;line-height:20px;overflow:hidden;
     white-space:nowrap;padding-left:3px;box-sizing:border-box;border:1px solid rgba(0,0,0,.25)}
.bar.failed{border:2px solid #b71c1c;background-image:repeating-linear-gradient(45deg,transparent 0 4px,rgba(183,28,28,.35) 4px 8px)}
.bar.reverted{border:2px dashed #e65100}
.axis{position:relative;height:16px;margin-left:150px;color:#666;font-size:11px}
.axis span{position:absolute;transform:translateX(-50%)} .axis span:first-child{transform:none}
.axis span:last-child{transform:translateX(-100%)} .axis span{white-space:nowrap}
.legend span{display:inline-block;margin-right:12px} .legend i{display:inline-block;width:12px;height:12px;
     vertical-align:middle;margin-right:4px;border:1px solid rgba(0,0,0,.25)}
table{border-collapse:collapse;font-size:12px} td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
</style></head><body>
<h1>Rollback {{ r.run_id }}
 <span class="verdict {{ 'v-verified' if r.verdict == 'verified' else 'v-failed' if r.verdict == 'failed' else 'v-other' }}">
 {{ r.verdict }}</span></h1>
<div class="meta">{{ s.started }} &rarr; {{ s.ended }} &middot; {{ s.hosts }} host(s) &middot;
 RTO {{ '%.1f'|format(s.rto_s) }} s{% if s.rto_target_s is not none %} (target {{ s.rto_target_s }} s:
 {{ 'met' if s.rto_met else 'MISSED' }}){% endif %}
 {% if s.rpo_s is not none %}&middot; RPO {{ '%.1f'|format(s.rpo_s) }} s{% endif %}
 {% if r.journal_gaps %}&middot; <b>journal incomplete</b>: {{ r.journal_gaps | join('; ') }}{% endif %}</div>
<div class="legend">{% for phase, colour in colours.items() %}<span><i style="background:{{ colour }}"></i>{{ phase }}</span>{% endfor %}
 <span><i style="border:2px solid #b71c1c"></i>failed</span><span><i style="border:2px dashed #e65100"></i>reverted</span></div>
<h2>Timeline</h2>
<div class="tl" id="timeline">
{% for row in rows %}<div class="host" title="{{ row.host }}">{{ row.host }}<small>{{ row.verdict }}</small></div>
<div class="track" data-host="{{ row.host }}" style="height:{{ row.lanes * 24 }}px">
{% for b in row.bars %}<div class="bar {{ b.result }}" data-phase="{{ b.phase }}" data-component="{{ b.component }}"
 data-result="{{ b.result }}" title="{{ b.component }} {{ b.phase }}: {{ b.start }} - {{ b.end }} ({{ b.duration_s }} s) {{ b.result }}"
 style="left:{{ b.left }}%;width:{{ b.width }}%;top:{{ b.lane * 24 + 2 }}px;background-color:{{ b.colour }}">
{{ '&#10007; '|safe if b.result == 'failed' else '&#8634; '|safe if b.result == 'reverted' else '' }}{{ b.component }} {{ b.phase }}</div>
{% endfor %}</div>
{% endfor %}</div>
<div class="axis">{% for t in ticks %}<span style="left:{{ t.left }}%">{{ t.label }}</span>{% endfor %}</div>
<h2>Hosts</h2>
<table><tr><th>host</th><th>verdict</th><th>components</th><th>reverted</th></tr>
{% for host, h in r.hosts.items() %}<tr><td>{{ host }}</td><td>{{ h.verdict }}</td>
<td>{% for c, v in h.components.items()|sort %}{{ c }}: {{ v }}{% if not loop.last %}, {% endif %}{% endfor %}</td>
<td>{{ h.reverted|join('; ') }}</td></tr>{% endfor %}</table>
<h2>Steps</h2>
<table><tr><th>time</th><th>host</th><th>component</th><th>action</th><th>from</th><th>to</th><th>result</th><th>message</th></tr>
{% for e in r.timeline %}<tr><td>{{ e.ts }}</td><td>{{ e.host }}</td><td>{{ e.component }}</td><td>{{ e.action }}</td>
<td>{{ e['from'] or '' }}</td><td>{{ e.to or '' }}</td><td>{{ e.result }}</td><td>{{ e.message or '' }}</td></tr>{% endfor %}</table>
</body></html>
"""  # noqa: E501 - the page is one template; its markup lines are not code
)


def render_html(report, timeline=None):
    rows, ticks = html_rows(report, timeline)
    return HTML.render(r=report, s=report["summary"], rows=rows, ticks=ticks, colours=PHASE_COLOURS)


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=False, default=str) + "\n"


def write_all(report, directory, timeline=None):
    """Write the three forms; returns {form: path}."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = "incident-%s" % report["run_id"]
    forms = {
        "markdown": (directory / (stem + ".md"), render_markdown(report)),
        "json": (directory / (stem + ".json"), render_json(report)),
        "html": (directory / (stem + ".html"), render_html(report, timeline)),
    }
    for path, text in forms.values():
        path.write_text(text, encoding="utf-8")
    return {form: path for form, (path, _text) in forms.items()}
