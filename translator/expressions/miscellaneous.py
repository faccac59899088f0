"""``$meta``: stream metadata, read from the document's ``_stream_meta``.

https://www.mongodb.com/docs/atlas/atlas-stream-processing/sp-agg-meta/
"""

from __future__ import annotations

from typing import Any

from translator.errors import SpecError
from translator.expressions.compile import expression_operator, get_path

STREAM_META_FIELD = "_stream_meta"


@expression_operator("$meta")
def compile_meta(args: Any, at: tuple, scope: Any):
    if type(args) is not str or not (args == "stream" or args.startswith("stream.")):
        msg = f'$meta expects "stream" or "stream.<path>"; got {args!r}'
        raise SpecError(msg, at)
    parts = (STREAM_META_FIELD, *args.split(".")[1:])
    return lambda doc, vars: get_path(doc, parts)
