# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Env files (KEY=value, as docker compose and systemd read them) and masking secrets in diffs.

PRIVATE to this collection: the leading underscore means no API promise.
"""

from __future__ import annotations

import re

MASK = "********"
SECRET_KEY_RE = re.compile(
    r"(PASSWORD|PASSWD|PASS$|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE|AUTH|SALT|DSN|COOKIE|SESSION)", re.IGNORECASE
)
# KEY=value, export KEY=value, and YAML-ish "key: value" (compose files)
ASSIGN_RE = re.compile(
    r"^(?P<lead>\s*(?:export\s+|-\s+)?)(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)(?P<sep>\s*[=:]\s*)(?P<value>.*)$"
)
URL_CREDENTIALS_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@")
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
PLAIN_VALUE_RE = re.compile(r"^[A-Za-z0-9_./:@,+%=-]*$")


def is_secret_key(key):
    return bool(SECRET_KEY_RE.search(key))


def mask_line(line):
    match = ASSIGN_RE.match(line)
    if match and is_secret_key(match.group("key")) and match.group("value").strip():
        return "%s%s%s%s" % (match.group("lead"), match.group("key"), match.group("sep"), MASK)
    return URL_CREDENTIALS_RE.sub(lambda m: "%s%s:%s@" % (m.group("scheme"), m.group("user"), MASK), line)


def mask_text(text):
    """The text with values of secret-looking keys and URL passwords replaced by ********."""
    if text is None:
        return None
    return "".join(
        mask_line(line[:-1]) + "\n" if line.endswith("\n") else mask_line(line) for line in text.splitlines(True)
    )


def format_value(value):
    if isinstance(value, bool):
        value = "true" if value else "false"
    value = "" if value is None else str(value)
    if PLAIN_VALUE_RE.match(value):
        return value
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")


def unquote(raw):
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        inner = raw[1:-1]
        if raw[0] == '"':
            inner = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), inner)
        return inner
    if " #" in raw:
        raw = raw.split(" #", 1)[0].rstrip()
    return raw


def parse(text):
    """{KEY: value} of an env file (the last assignment wins, as in a shell)."""
    values = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = ASSIGN_RE.match(line)
        if match and "=" in match.group("sep"):
            values[match.group("key")] = unquote(match.group("value"))
    return values


def set_keys(text, updates):
    """(new text, [changed keys]) with each KEY set to its value; lines and comments kept."""
    wanted = {key: format_value(value) for key, value in updates.items()}
    plain = {
        key: (value if not isinstance(value, bool) else ("true" if value else "false"))
        for key, value in updates.items()
    }
    lines = text.splitlines(True)
    seen = set()
    changed = []
    for index, line in enumerate(lines):
        if line.strip().startswith("#"):
            continue
        match = ASSIGN_RE.match(line.rstrip("\n"))
        if not match or "=" not in match.group("sep") or match.group("key") not in wanted:
            continue
        key = match.group("key")
        seen.add(key)
        if unquote(match.group("value")) == ("" if plain[key] is None else str(plain[key])):
            continue
        lines[index] = "%s%s=%s%s" % (match.group("lead"), key, wanted[key], "\n" if line.endswith("\n") else "")
        changed.append(key)
    missing = [key for key in updates if key not in seen]
    if missing:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        for key in missing:
            lines.append("%s=%s\n" % (key, wanted[key]))
            changed.append(key)
    return "".join(lines), changed
