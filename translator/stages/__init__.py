"""Stage planners, one module per stage; importing this package registers them all."""

from translator.stages import (  # noqa: F401  (imported to register their planners)
    add_fields,
    cached_lookup,
    emit,
    hopping_window,
    https,
    lookup,
    match,
    merge,
    project,
    redact,
    replace_root,
    session_window,
    set_stream_meta,
    set_window_fields,
    source,
    tumbling_window,
    unset,
    unwind,
    validate,
)
from translator.stages._registry import STAGE_PLANNERS
from translator.stages.sources import change_stream, documents, kafka, sample_solar  # noqa: F401

__all__ = ["STAGE_PLANNERS"]
