# Copyright (c) emergency.rollback contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this doc fragment is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

from __future__ import annotations


class ModuleDocFragment:
    # Options of the modules that replace a conf file nginx reads and then reload it.
    DOCUMENTATION = r"""
options:
  nginx_conf:
    description:
      - Main nginx configuration, used by the default O(test_command) and O(reload_command).
    type: path
    default: /etc/nginx/nginx.conf
  test_command:
    description:
      - Command (argv) that tests the configuration; it runs before the file is replaced (the live
        configuration must pass) and after (a failure puts the previous file back).
      - Empty means C(nginx -c <nginx_conf> -t).
    type: list
    elements: str
    default: []
  reload_command:
    description:
      - Command (argv) that reloads nginx gracefully (old workers finish their requests), for example
        C([systemctl, reload, nginx]). nginx is never restarted.
      - Empty means C(nginx -c <nginx_conf> -s reload).
    type: list
    elements: str
    default: []
  keep:
    description:
      - How many safety snapshots of this file to keep in C(<state_dir>/snapshots/traffic/); after a
        change the oldest beyond it are removed (never the one this run took). V(0) keeps all.
      - A gradual restore takes one per step, so the default keeps the last few restores.
    type: int
    default: 20
notes:
  - The file replaced is kept first as a safety snapshot in C(<state_dir>/snapshots/traffic/) (returned as
    RV(snapshot)); M(emergency.rollback.config_snapshot) with
    O(emergency.rollback.config_snapshot#module:state=restored),
    O(emergency.rollback.config_snapshot#module:component=traffic) and that id puts it back.
"""
