# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every primitive shares: the common options and a journaled step.

PRIVATE to this collection: the leading underscore means no API promise.
"""

from __future__ import annotations

import re
import time

from ansible_collections.emergency.rollback.plugins.module_utils._journal import (
    DEFAULT_STATE_DIR,
    RESULTS,
    Journal,
    JournalError,
    make_entry,
)


def common_argument_spec():
    """Options of the emergency.rollback._common doc fragment, in every module.

    Keeping them in every module lets module_defaults for group/emergency.rollback.all
    point a whole play at one state_dir and run_id.
    """
    return dict(
        state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
        run_id=dict(type="str"),
        journal=dict(type="bool", default=True),
    )


SECRET_HEADER = re.compile(r"auth|token|key|secret|signature|password|cookie", re.IGNORECASE)


def hide_secret_headers(module, headers):
    """Mask the values of credential headers like no_log options; the other headers stay readable."""
    for name, value in (headers or {}).items():
        if SECRET_HEADER.search(str(name)) and value not in (None, ""):
            module.no_log_values.add(str(value))


def entry_argument_spec():
    """Options of one journal entry a caller writes (journal_record, the lock's verdict)."""
    return dict(
        component=dict(type="str", required=True),
        action=dict(type="str", required=True),
        result=dict(type="str", choices=list(RESULTS), default="ok"),
        to=dict(type="str"),
        snapshot=dict(type="str"),
        duration_s=dict(type="float"),
        summary=dict(type="str"),
        details=dict(type="dict"),
        **{"from": dict(type="str", aliases=["from_"])},
    )


def record_entry(module, p):
    """Journal one entry given as the options of entry_argument_spec; returns it (None in check mode)."""
    step = Step(module, p["component"], p["action"])
    fields = dict(p["details"] or {})
    fields.update({"from_": p["from"], "to": p["to"], "snapshot": p["snapshot"], "message": p["summary"]})
    fields["duration_s"] = p["duration_s"]
    return step.record(p["result"], **fields)


def with_common(spec):
    merged = common_argument_spec()
    merged.update(spec)
    return merged


class Step:
    """One action of one component: timed, and written to the host journal when it ends.

    Nothing is journaled in check mode (it changes nothing) or when journal=false.
    """

    def __init__(self, module, component, action):
        self.module = module
        self.component = component
        self.action = action
        self.started = time.monotonic()
        self.entry = None
        # why the journal line could not be written (a full state dir): returned, never hidden
        self.journal_error = None

    @property
    def journal(self):
        return Journal.in_state_dir(self.module.params["state_dir"])

    def elapsed(self):
        return time.monotonic() - self.started

    def record(self, result, **fields):
        params = self.module.params
        if self.module.check_mode or not params.get("journal", True):
            return None
        if fields.get("duration_s") is None:
            fields["duration_s"] = self.elapsed()
        try:
            entry = make_entry(self.component, self.action, result, run_id=params.get("run_id"), **fields)
            self.entry = self.journal.append(entry, secrets=self.module.no_log_values)
        except (OSError, JournalError) as err:
            self.journal_error = getattr(err, "strerror", None) or str(err)
            self.module.warn("could not write the journal %s: %s" % (self.journal.path, err))
        return self.entry

    def exit(self, changed, message=None, journal_fields=None, **result):
        self.record("changed" if changed else "ok", message=message, **(journal_fields or {}))
        result.setdefault("duration_s", round(self.elapsed(), 3))
        if self.entry is not None:
            result["journal_entry"] = self.entry
        if self.journal_error is not None:
            result["journal_error"] = self.journal_error
        self.module.exit_json(changed=changed, **result)

    def fail(self, msg, journal_fields=None, result="failed", journal=True, **extra):
        """Fail the task, journaled; journal=False for a refusal that changed nothing (see refuse)."""
        if journal:
            self.record(result, message=msg, **(journal_fields or {}))
        if self.journal_error is not None:
            extra["journal_error"] = self.journal_error
        self.module.fail_json(msg=msg, **extra)

    def refuse(self, msg, **extra):
        """Fail on input or state that stops the step before it changed anything: nothing is journaled."""
        self.fail(msg, journal=False, **extra)
