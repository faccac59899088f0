"""Stage planners, one module per stage; importing this package registers them all."""

from translator.stages import (  # noqa: F401  (imported to register their planners)
    add_fields,
    match,
    project,
    redact,
    replace_root,
    source,
    unset,
    unwind,
    validate,
)
from translator.stages._registry import STAGE_PLANNERS
from translator.stages.sources import documents, sample_solar  # noqa: F401

__all__ = ["STAGE_PLANNERS"]
