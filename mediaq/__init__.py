"""mediaq: the shared core (settings, schema, sessions, migrations, job state transitions)."""

__version__ = "0.1.0"
