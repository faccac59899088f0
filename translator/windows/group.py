"""``$group`` inside a window: one entry of accumulator states per group key.

https://www.mongodb.com/docs/manual/reference/operator/aggregation/group/
"""

from __future__ import annotations

from typing import Any

from translator._types import MISSING, NO_VARS, Path
from translator.errors import ExpressionError, SpecError
from translator.expressions import compile_expression
from translator._bson_order import bson_key
from translator.windows.accumulators import Accumulator, Sum, compile_accumulator

try:
    from runtime._native import sum_by_key as native_sum_by_key
except ImportError:  # not built (setup.py): the Python loop of Group._add_plain_sums
    native_sum_by_key = None

Groups = dict  # hashable group key -> [group _id, state of accumulator 0, state 1, ...]
_PLAIN_KEYS = frozenset({str, int})  # hashable as they are, and never equal across types


class Group:
    """A compiled ``$group`` spec: the ``_id`` expression and one accumulator per field."""

    def __init__(self, spec: Any, at: Path = ()) -> None:
        if type(spec) is not dict or "_id" not in spec:
            msg = "$group requires an object with an _id field"
            raise SpecError(msg, at)
        self.id_spec = spec["_id"]
        self.key = compile_expression(spec["_id"], (*at, "_id"))
        self.fields: list[str] = []
        self.accumulators: list[Accumulator] = []
        for field, acc_spec in spec.items():
            if field == "_id":
                continue
            if "." in field or field.startswith("$"):
                msg = f"the group field name {field!r} cannot contain '.' or start with '$'"
                raise SpecError(msg, (*at, field))
            self.fields.append(field)
            self.accumulators.append(compile_accumulator(acc_spec, (*at, field)))
        self._steps = tuple((acc.arg, acc.add) for acc in self.accumulators)
        # The common window, {_id: "$k", x: {$sum: "$v"}}, gets a loop without closure calls.
        fields = [top_level_field(spec["_id"])]
        if len(self.accumulators) == 1:
            fields.append(top_level_field(next(iter(spec[self.fields[0]].values()))))
        self._plain_fields = tuple(fields) if len(fields) == 2 and None not in fields else None

    def add_documents(self, groups: Groups, docs: list) -> list[tuple[dict, str]]:
        """Fold documents into ``groups``; returns ``(doc, reason)`` for each that failed."""
        if self._plain_fields is not None and type(self.accumulators[0]) is Sum:
            self._add_plain_sums(groups, docs)
            return []
        return self._add_evaluated(groups, docs)

    def _add_plain_sums(self, groups: Groups, docs: list) -> None:
        """``$sum`` of a top-level field by a top-level field: nothing here can fail."""
        if native_sum_by_key is None:
            self._fold_plain_sums(groups, docs)
            return
        key_field, value_field = self._plain_fields
        add = self.accumulators[0].add
        # The loop of _fold_plain_sums in one native call per chunk, which hands it what is not a dict.
        native_sum_by_key(groups, docs, key_field, value_field, bson_key, add, MISSING, self._fold_plain_sums)

    def _fold_plain_sums(self, groups: Groups, docs: list) -> None:
        """:meth:`_add_plain_sums` in Python: the reference of ``runtime._native.sum_by_key``."""
        key_field, value_field = self._plain_fields
        add = self.accumulators[0].add
        for doc in docs:
            key = doc.get(key_field)  # missing and null group together
            hashed = key if type(key) in _PLAIN_KEYS else bson_key(key)
            entry = groups.get(hashed)
            if entry is None:
                entry = groups[hashed] = [key, 0]
            value = doc.get(value_field, MISSING)
            total = entry[1]
            if type(value) is int and type(total) is int:
                entry[1] = total + value
            else:
                entry[1] = add(total, value)

    def _add_evaluated(self, groups: Groups, docs: list) -> list[tuple[dict, str]]:
        """The general fold through compiled closures.

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
                hashed = key if type(key) in _PLAIN_KEYS else bson_key(key)
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


def top_level_field(spec: Any) -> str | None:
    """``"$name"`` → ``"name"``; None for anything else (paths, variables, expressions)."""
    if type(spec) is str and spec.startswith("$") and not spec.startswith("$$") and "." not in spec and len(spec) > 1:
        return spec[1:]
    return None
