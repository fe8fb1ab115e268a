"""Job handlers, one module per job type family. Importing this registers them all."""

from tasks.handlers import (  # noqa: F401
    clips,
    compilation,
    digest,
    fetch,
    gif,
    noop,
    organize,
    pipeline,
    publish,
    reencode,
    scan,
    scenes,
    tags,
    thumbnail,
)
