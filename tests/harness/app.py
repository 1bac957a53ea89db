"""Helpers for the app component tests: release layouts, git repos, whole-tree fingerprints."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# nginx serving an ansistrano layout's current release: /health is 500 when the release lacks it.
SITE = """
server {{
    listen 127.0.0.1:{http_port};
    root %s/current/public;
    open_file_cache off;
    location = /health {{ try_files /health =500; }}
    location / {{ try_files $uri /index.html =404; }}
}}
"""


def make_layout(root, ids, live=None, relative=True, broken=(), revision=True):
    """An ansistrano layout: releases/<id>/public/{index.html,health}, current -> live.

    A broken release has no public/health file (nginx answers 500 through try_files).
    """
    root = Path(root)
    (root / "shared").mkdir(parents=True, exist_ok=True)
    for rid in ids:
        public = root / "releases" / rid / "public"
        public.mkdir(parents=True, exist_ok=True)
        (public / "index.html").write_text("release %s\n" % rid)
        if rid not in broken:
            (public / "health").write_text("ok %s\n" % rid)
        if revision:
            (root / "releases" / rid / "REVISION").write_text("rev-%s\n" % rid)
    if live is not None:
        target = os.path.join("releases", live) if relative else str(root / "releases" / live)
        os.symlink(target, root / "current")
    return root


def live_of(root):
    return os.path.basename(os.readlink(Path(root) / "current"))


def fingerprint(path):
    """Every entry under path: type, content or link target, mode, owner. Byte-for-byte comparison."""
    path = Path(path)
    found = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in sorted(dirnames + filenames):
            full = Path(dirpath) / name
            st = os.lstat(full)
            rel = str(full.relative_to(path))
            if full.is_symlink():
                found[rel] = ("link", os.readlink(full))
            elif full.is_dir():
                found[rel] = ("dir", st.st_mode, st.st_uid, st.st_gid)
            else:
                found[rel] = ("file", full.read_bytes(), st.st_mode, st.st_uid, st.st_gid)
    return found


GIT_ENV = {
    "GIT_AUTHOR_NAME": "dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo, *args):
    env = dict(os.environ, **GIT_ENV)
    out = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env)
    return out.stdout.strip()


def make_repo(path, commits=("v1", "v2", "v3")):
    """A repo with one commit per version writing app.txt; returns the shas in order."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    shas = []
    for version in commits:
        (path / "app.txt").write_text("version %s\n" % version)
        (path / ("%s.txt" % version)).write_text(version)
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "release %s" % version)
        shas.append(git(path, "rev-parse", "HEAD"))
    return shas
