"""Sources and sinks: one module per external system, no knowledge of pipelines.

Every source emits *chunks*: a Bytewax item is a ``list`` of documents (dicts), or a
:class:`runtime.dead_letters.DeadLetters` list of records that failed on the way in.
Batching at the edges keeps Bytewax's per-item overhead off the per-document budget.
"""
