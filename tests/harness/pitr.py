"""A throwaway PostgreSQL cluster of its own with a pgBackRest repository, for the PITR tests and bench."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.harness import services


@dataclass
class PitrCluster:
    base: Path
    server: services.PostgresServer

    @property
    def repo(self):
        return self.base / "repo"

    @property
    def config(self):
        return self.base / "pgbackrest.conf"

    @property
    def stanza(self):
        return "main"

    def stanza_args(self, state_dir, **extra):
        """pgbackrest_stanza's arguments for this cluster."""
        return dict(
            self.server.params("postgres"),
            stanza=self.stanza,
            data_dir=str(self.server.data),
            # pgBackRest reaches a local cluster through its Unix socket
            login_unix_socket=str(self.server.socket_dir),
            pgbackrest_config=str(self.config),
            repo_path=str(self.repo),
            log_path=str(self.base / "log"),
            bin_dir=str(self.server.bin_dir),
            state_dir=str(state_dir),
            **extra,
        )

    def pitr_args(self, state_dir, database, **extra):
        """pg_pitr's arguments for this cluster (checks run in `database`)."""
        return dict(
            self.server.params(database),
            data_dir=str(self.server.data),
            stanza=self.stanza,
            pgbackrest_config=str(self.config),
            bin_dir=str(self.server.bin_dir),
            state_dir=str(state_dir),
            run_id="rb-pitr",
            **extra,
        )

    def role_vars(self, state_dir, database, **extra):
        """The database role's variables (pitr_setup.yml, rollback_database.yml) for this cluster."""
        server = self.server
        return dict(
            rollback_hosts="all",
            database_state_dir=str(state_dir),
            database_name=database,
            database_login_host=server.host,
            database_login_port=server.port,
            database_login_user=server.user,
            database_login_password=server.password,
            database_login_unix_socket=str(server.socket_dir),
            database_bin_dir=str(server.bin_dir),
            database_pitr_data_dir=str(server.data),
            database_pitr_config=str(self.config),
            database_pitr_repo_path=str(self.repo),
            **extra,
        )

    def kept_dirs(self, tag):
        parent = self.server.data.parent
        return sorted(str(p) for p in parent.glob("%s.%s-*" % (self.server.data.name, tag)))

    def stop(self):
        self.server.stop()
        # a side or kept cluster a failed test left running
        for path in self.server.data.parent.glob("data.*"):
            if (path / "postmaster.pid").exists():
                subprocess.run(
                    self.server.as_postgres
                    + [str(self.server.bin_dir / "pg_ctl"), "-D", str(path), "-m", "immediate", "stop"],
                    capture_output=True,
                    check=False,
                )
        shutil.rmtree(self.base, ignore_errors=True)


def start_pitr_cluster():
    base = Path(tempfile.mkdtemp(prefix="rollback-pitr-"))
    os.chmod(base, 0o711)
    server = services.start_postgres(base / "server")
    # the WAL archive: archive_mode needs a restart, done by pgbackrest_stanza
    return PitrCluster(base=base, server=server)
