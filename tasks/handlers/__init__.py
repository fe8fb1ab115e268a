"""Job handlers, one module per job type family. Importing this registers them all."""

from tasks.handlers import noop, scan  # noqa: F401
