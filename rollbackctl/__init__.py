"""rollbackctl: a thin command line over ansible-runner for the emergency.rollback collection."""

__version__ = "0.1.0"
