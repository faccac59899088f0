"""``$group`` inside a window: one entry of accumulator states per group key.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/group/
"""

from __future__ import annotations

from typing import Any

from translator._types import MISSING, NO_VARS, Path
from translator.errors import ExpressionError, SpecError
from translator.expressions import compile_expression
from translator.windows.accumulators import Accumulator, compile_accumulator, hashable

Groups = dict  # hashable group key -> [group _id, state of accumulator 0, state 1, ...]
_PLAIN_KEYS = frozenset({str, int})  # hashable as they are, and never equal across types


class Group:
    """A compiled ``$group`` spec: the ``_id`` expression and one accumulator per field."""

    def __init__(self, spec: Any, at: Path = ()) -> None:
        if type(spec) is not dict or "_id" not in spec:
            msg = "$group requires an object with an _id field"
            raise SpecError(msg, at)
        self.key = compile_expression(spec["_id"], (*at, "_id"))
        self.fields: list[str] = []
        self.accumulators: list[Accumulator] = []
        for field, acc_spec in spec.items():
            if field == "_id":
                continue
            if "." in field:
                msg = f"the group field name {field!r} cannot contain '.'"
                raise SpecError(msg, (*at, field))
            self.fields.append(field)
            self.accumulators.append(compile_accumulator(acc_spec, (*at, field)))
        self._steps = tuple((acc.arg, acc.add) for acc in self.accumulators)

    def add_documents(self, groups: Groups, docs: list) -> list[tuple[dict, str]]:
        """Fold documents into ``groups``; returns ``(doc, reason)`` for each that failed.

        Every argument of a document is evaluated before any state changes, so a failing
        document leaves no trace in the window.
        """
        key_fn, steps, accumulators = self.key, self._steps, self.accumulators
        single = steps[0] if len(steps) == 1 else None
        failed = []
        for doc in docs:
            try:
                key = key_fn(doc, NO_VARS)
                if key is MISSING:
                    key = None
                hashed = key if type(key) in _PLAIN_KEYS else hashable(key)
                entry = groups.get(hashed)
                if single is not None:
                    value = single[0](doc, NO_VARS)
                    if entry is None:
                        entry = groups[hashed] = [key, accumulators[0].init()]
                    entry[1] = single[1](entry[1], value)
                    continue
                values = [arg(doc, NO_VARS) for arg, _ in steps]
                if entry is None:
                    entry = groups[hashed] = [key, *(acc.init() for acc in accumulators)]
                i = 1
                for (_, add), value in zip(steps, values):
                    entry[i] = add(entry[i], value)
                    i += 1
            except ExpressionError as error:
                failed.append((doc, f"$group failed: {error}"))
        return failed

    def merge(self, into: Groups, other: Groups) -> Groups:
        """Merge two windows' groups (session windows joined by a late document)."""
        for hashed, entry in other.items():
            mine = into.get(hashed)
            if mine is None:
                into[hashed] = entry
                continue
            for i, acc in enumerate(self.accumulators, 1):
                mine[i] = acc.merge(mine[i], entry[i])
        return into

    def results(self, groups: Groups) -> list[dict]:
        """One output document per group, ``_id`` first, in first-seen order."""
        fields = self.fields
        accumulators = self.accumulators
        out = []
        for entry in groups.values():
            doc = {"_id": entry[0]}
            for i, field in enumerate(fields):
                doc[field] = accumulators[i].result(entry[i + 1])
            out.append(doc)
        return out
