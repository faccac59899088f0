"""One generated Python function per run of fused stateless stages: the hot path.

``build.fuse`` runs a segment as a chain of per-stage runners, each calling its stage's
compiled closure once per document. Here the segment becomes one loop over each chunk,
written once per pipeline from the plan: the common closure shapes (a field against a
number, ``$a.b`` lookups, ``$field * constant``, an inclusion projection, ``$addFields``)
are inlined, their type checks first and the compiled closure as the fallback for every
other value, so what runs is what the closures compute, in fewer calls.

The generated source never holds anything from the pipeline: field names, literals and
closures are bound to generated identifiers, so a pipeline cannot inject code. Compiled
closures describe the shapes they stand for with an ``inline`` attribute, a tuple whose
first element names the shape (see ``_expression``, ``_predicate`` and ``_map``).
An inclusion projection builds its document in one call to ``runtime._native.Inclusion``
when that extension is built (setup.py), and drops the other fields in place when it is not.
It updates the documents it is given in place (the step owns them), so it serves the
dataflow's fused steps; window stages, which may run their inner stages over one document
once per window, keep ``build.fuse``, and so do segments holding a stage that takes whole
chunks (see :func:`generates`).

With stats, the generated loop keeps the per-stage counters ``build._counting`` keeps, per
chunk (see :func:`_chunk_counter`).
"""

from __future__ import annotations

import operator
import time
from itertools import count
from typing import TYPE_CHECKING, Any, Callable

from runtime.dead_letters import DeadLetters, dead_letter
from translator._types import MISSING, NO_VARS
from translator.errors import ExpressionError
from translator.plan import FILTER, FLAT_MAP, MAP, StagePlan

if TYPE_CHECKING:
    from runtime.stats import FlowStats

# Operators the closures call, written as Python operators in the generated source.
_SYMBOLS = {
    operator.gt: ">",
    operator.ge: ">=",
    operator.lt: "<",
    operator.le: "<=",
    operator.eq: "==",
    operator.ne: "!=",
    operator.add: "+",
    operator.sub: "-",
    operator.mul: "*",
}
_SHAPE_CACHE_LIMIT = 256  # input shapes remembered per projection; past that, planned per document
_ROOM_FOR_LATER_FIELDS = 2  # a projected document is sized for this many more ($addFields after it)

try:
    from runtime._native import Inclusion as NativeInclusion
except ImportError:  # not built (setup.py): projections drop the other fields in place instead
    NativeInclusion = None


def describe(exc: Exception) -> str:
    """The DLQ reason for a stage's failure: an expression error as mongod words it."""
    return str(exc) if isinstance(exc, ExpressionError) else f"{type(exc).__name__}: {exc}"


def failure(plan: StagePlan) -> Callable[[dict, Exception], dict]:
    """The DLQ record of a document ``plan``'s stage failed on."""
    where = plan.stage.location
    return lambda doc, exc: dead_letter(doc, f"{where}: {describe(exc)}")


class _Source:
    """The generated function's lines, and the objects its identifiers stand for."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.bound: dict[str, Any] = {}
        self.reads: dict[str, str] = {}  # field → the name holding ``doc.get(field, MISSING)``, per stage
        self.types: dict[str, str] = {}  # name → the name holding ``type(name)``, per stage
        self.present: set[str] = set()  # names of values never MISSING (operators' results)
        self.tally: str | None = None  # with stats, the counter of the current stage's rejections
        self._names = count()

    def bind(self, value: Any) -> str:
        name = f"c{next(self._names)}"
        self.bound[name] = value
        return name

    def temp(self) -> str:
        return f"t{next(self._names)}"

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def read(self, depth: int, key: str) -> str:
        """The name holding ``doc.get(key, MISSING)``: a stage reads each field once, as ``doc``
        changes only after its reads."""
        if key not in self.reads:
            self.reads[key] = self.temp()
            self.emit(depth, f"{self.reads[key]} = doc.get({self.bind(key)}, MISSING)")
        return self.reads[key]

    def type_of(self, depth: int, name: str) -> str:
        """The name holding ``type(name)``, computed once per stage like its read."""
        if name not in self.types:
            self.types[name] = self.temp()
            self.emit(depth, f"{self.types[name]} = type({name})")
        return self.types[name]


def _apply(src: _Source, operation: Callable, a: str, b: str) -> str:
    """``operation(a, b)`` as source: a Python operator when it is one."""
    symbol = _SYMBOLS.get(operation)
    return f"{a} {symbol} {b}" if symbol is not None else f"{src.bind(operation)}({a}, {b})"


def _expression(src: _Source, depth: int, fn: Callable) -> str:
    """Emit the statements computing ``fn(doc, NO_VARS)``; return the name holding its value."""
    field = getattr(fn, "field", None)
    if field is not None:
        return src.read(depth, field)
    if hasattr(fn, "constant"):
        return src.bind(fn.constant)
    shape = getattr(fn, "inline", None)
    value = src.temp()
    call = f"{src.bind(fn)}(doc, NO_VARS)"
    if shape is not None and shape[0] == "nested_field":
        _, outer, inner = shape
        parent = src.read(depth, outer)
        src.emit(depth, f"{value} = {parent}.get({src.bind(inner)}, MISSING) if type({parent}) is dict else {call}")
    elif shape is not None and shape[0] in ("field_number_op", "field_compare_number", "field_int_op"):
        kind, key, operation, constant = shape[:4]
        a = src.read(depth, key)
        t = src.type_of(depth, a)
        result = _apply(src, operation, a, src.bind(constant))
        src.present.add(value)  # arithmetic and comparisons answer null for missing operands
        if kind == "field_number_op":
            src.emit(depth, f"{value} = {result} if {t} is float or {t} is int else {call}")
        elif kind == "field_compare_number":
            src.emit(depth, f"{value} = {result} if {t} is int or ({t} is float and {a} == {a}) else {call}")
        else:
            low, high, widen = (src.bind(v) for v in shape[4:])
            src.emit(depth, f"if {t} is int and {low} <= {a} <= {high}:")
            src.emit(depth + 1, f"{value} = {widen}({result})")
            src.emit(depth, "else:")
            src.emit(depth + 1, f"{value} = {result} if {t} is float else {call}")
    else:
        src.emit(depth, f"{value} = {call}")
    return value


def _predicate(src: _Source, depth: int, fn: Callable) -> None:
    """Emit ``continue`` for a document the compiled query ``fn`` rejects."""
    shape = getattr(fn, "inline", None)
    if shape is not None and shape[0] == "all_of":
        for clause in shape[1]:
            _predicate(src, depth, clause)
        return
    if shape is not None and shape[0] == "field_native":
        _, key, accept, literal, kinds = shape
        value = src.read(depth, key)
        kind = src.type_of(depth, value)
        checks = " or ".join(f"{kind} is {src.bind(k)}" for k in sorted(kinds, key=lambda k: k.__name__))
        test = _apply(src, accept, value, src.bind(literal))
        src.emit(depth, f"if not ({test} if {checks} else {src.bind(fn)}(doc)):")
    else:
        src.emit(depth, f"if not {src.bind(fn)}(doc):")
    if src.tally is not None:
        src.emit(depth + 1, f"{src.tally} += 1")
    src.emit(depth + 1, "continue")


def _add_fields(src: _Source, depth: int, computed: tuple) -> None:
    """Every computed field's value, then each set on ``doc`` (MISSING removes it)."""
    values = [(key, _expression(src, depth, fn)) for key, fn in computed]
    for key, value in values:
        name = src.bind(key)
        if value in src.present:
            src.emit(depth, f"doc[{name}] = {value}")
            continue
        src.emit(depth, f"if {value} is MISSING:")
        src.emit(depth + 1, f"doc.pop({name}, None)")
        src.emit(depth, "else:")
        src.emit(depth + 1, f"doc[{name}] = {value}")


def _set_computed(src: _Source, depth: int, values: list) -> None:
    """Set a projection's computed fields on ``doc``; a MISSING value sets nothing."""
    for key, value in values:
        if value in src.present:
            src.emit(depth, f"doc[{src.bind(key)}] = {value}")
        else:
            src.emit(depth, f"if {value} is not MISSING:")
            src.emit(depth + 1, f"doc[{src.bind(key)}] = {value}")


def _shape_planner(kept: frozenset) -> Callable[[tuple], tuple]:
    """Per input shape (its keys, in order), the keys an inclusion projection drops, memoised."""
    plans: dict[tuple, tuple] = {}

    def plan_for(shape: tuple) -> tuple:
        dropped = tuple(key for key in shape if key not in kept)
        if len(plans) < _SHAPE_CACHE_LIMIT:
            plans[shape] = dropped
        return dropped

    plan_for.plans = plans  # type: ignore[attr-defined]
    return plan_for


def _map(src: _Source, depth: int, fn: Callable) -> bool:
    """Emit the statements computing ``fn(doc)``: True when they update ``doc`` in place, False
    when they set ``new``."""
    shape = getattr(fn, "inline", None)
    if shape is not None and shape[0] == "flat_inclusion" and NativeInclusion is not None:
        # One native call builds the included fields, in input order, as the closure does.
        _, kept, computed = shape
        values = [(key, _expression(src, depth, fn)) for key, fn in computed]
        include = NativeInclusion(tuple(kept), len(kept) + len(computed) + _ROOM_FOR_LATER_FIELDS)
        src.emit(depth, f"doc = {src.bind(include)}(doc)")
        _set_computed(src, depth, values)
        return True
    if shape is not None and shape[0] == "flat_inclusion":
        # The stage owns ``doc``: dropping the other keys keeps the included ones in input
        # order, as the closure's copy does, without building a new document.
        _, kept, computed = shape
        planner = _shape_planner(kept)
        plans, plan_for = src.bind(planner.plans), src.bind(planner)
        shape_of, dropped, each = src.temp(), src.temp(), src.temp()
        src.emit(depth, f"{shape_of} = tuple(doc)")
        src.emit(depth, f"{dropped} = {plans}.get({shape_of})")
        src.emit(depth, f"if {dropped} is None:")
        src.emit(depth + 1, f"{dropped} = {plan_for}({shape_of})")
        values = [(key, _expression(src, depth, fn)) for key, fn in computed]  # read before any key goes
        src.emit(depth, f"for {each} in {dropped}:")
        src.emit(depth + 1, f"del doc[{each}]")
        _set_computed(src, depth, values)
        return True
    if shape is not None and shape[0] == "add_fields":
        _add_fields(src, depth, shape[1])
        return True
    src.emit(depth, f"new = {src.bind(fn)}(doc)")
    return False


def _tally(position: int) -> str:
    """The generated counter of a filter's rejections or a flat map's output documents."""
    return f"tally{position}"


def _stages(src: _Source, depth: int, group: list[StagePlan], counted: bool) -> None:
    """The loop body: each stage in its own ``try``, so a failure names its stage and its input."""
    for position, plan in enumerate(group):
        fail = src.bind(failure(plan))
        src.reads, src.types = {}, {}
        src.tally = _tally(position) if counted and plan.kind == FILTER else None
        src.emit(depth, "try:")
        in_place = False
        if plan.kind == FILTER:
            _predicate(src, depth + 1, plan.doc_fn)
        elif plan.kind == MAP:
            in_place = _map(src, depth + 1, plan.doc_fn)
        else:
            src.emit(depth + 1, f"new = {src.bind(plan.doc_fn)}(doc)")
        src.emit(depth, "except Exception as exc:  # one document's failure must not stop the stream")
        src.emit(depth + 1, f"failed.append(({position}, {fail}(doc, exc)))")
        src.emit(depth + 1, "continue")
        if plan.kind == FILTER or in_place:
            continue
        if plan.kind == MAP:
            src.emit(depth, "doc = new")
            continue
        if counted:
            src.emit(depth, f"{_tally(position)} += len(new)")
        src.emit(depth, "for doc in new:")  # a flat map: the later stages run per produced document
        depth += 1
    src.emit(depth, "append(doc)")


def _dead_letters(failed: list) -> DeadLetters:
    """Records in the per-stage runners' order: by stage, then by document."""
    return DeadLetters(record for _, record in sorted(failed, key=operator.itemgetter(0)))


def _chunk_counter(group: list[StagePlan], stats: FlowStats) -> Callable[[int, tuple, list, float], None]:
    """Add one chunk's figures to this worker's counters, as ``build._counting`` adds each stage's.

    The generated loop keeps one local integer per filter (documents it rejected) and per flat
    map (documents it produced); failures are the chunk's dead letters. A stage receives what
    the one before it passed on, so every stage's in and out follow, once per chunk. Time is
    measured once per chunk for the whole segment and shared among its stages in proportion to
    the documents each received: two clock reads per chunk, none per document.
    """
    indices = [plan.stage.index for plan in group]
    kinds = [plan.kind for plan in group]

    def count_chunk(received: int, tallies: tuple, failed: list, seconds: float) -> None:
        worker = stats.worker()
        into, out = worker.into, worker.out
        failures = [0] * len(group)
        if failed:
            by_stage: dict[int, list] = {}
            for position, record in failed:
                by_stage.setdefault(position, []).append(record)
            for position, records in by_stage.items():
                failures[position] = len(records)
                worker.dead_letters(indices[position], records)
        tally = iter(tallies)
        passed, received_by = received, []
        for position, kind in enumerate(kinds):
            received_by.append(passed)
            into[indices[position]] += passed
            if kind == FLAT_MAP:
                passed = next(tally)
            else:
                passed -= failures[position] + (next(tally) if kind == FILTER else 0)
            out[indices[position]] += passed
        total = sum(received_by)
        if not total:
            worker.seconds[indices[0]] += seconds
            return
        for index, share in zip(indices, received_by):
            worker.seconds[index] += seconds * share / total

    return count_chunk


def generates(group: list[StagePlan]) -> bool:
    """Whether :func:`compile_segment` can run ``group``: its stages take one document at a time."""
    return all(plan.kind in (FILTER, MAP, FLAT_MAP) for plan in group)


def compile_segment(group: list[StagePlan], stats: FlowStats | None = None) -> Callable[[list], list]:
    """The batch function of one run of stateless stages: chunks in, chunks out, as ``build.fuse``
    (counted with ``stats`` as ``build.fuse`` counts)."""
    if not generates(group):
        odd = next(plan for plan in group if plan.kind not in (FILTER, MAP, FLAT_MAP))
        msg = f"{odd.stage.name} (stage {odd.stage.index}) takes whole chunks; build.fuse runs it"
        raise ValueError(msg)
    counted = stats is not None
    src = _Source()
    src.bound.update(MISSING=MISSING, NO_VARS=NO_VARS, dead_letters=_dead_letters)
    tallies = [_tally(position) for position, plan in enumerate(group) if plan.kind in (FILTER, FLAT_MAP)]
    if counted:
        src.bound.update(count_chunk=_chunk_counter(group, stats), clock=time.perf_counter)
    _stages(src, 3, group, counted)
    body, src.lines = src.lines, []
    src.emit(0, "def run_chunks(chunks):")
    for name in src.bound:  # globals read once per call, locals afterwards
        src.emit(1, f"{name} = {name}_")
    src.emit(1, "out = []")
    src.emit(1, "for docs in chunks:")
    start = ["kept = []", "append = kept.append", "failed = []"]
    if counted:
        start += [f"{' = '.join(tallies)} = 0"] if tallies else []
        start.append("started = clock()")
    for line in [*start, "for doc in docs:"]:
        src.emit(2, line)
    src.lines += body
    if counted:
        src.emit(2, f"count_chunk(len(docs), ({''.join(t + ', ' for t in tallies)}), failed, clock() - started)")
    for nonempty, chunk in (("kept", "kept"), ("failed", "dead_letters(failed)")):
        src.emit(2, f"if {nonempty}:")
        src.emit(3, f"out.append({chunk})")
    src.emit(1, "return out")
    namespace = {f"{name}_": value for name, value in src.bound.items()}
    source = "\n".join(src.lines)
    name = f"<segment {'+'.join(plan.stage.step_id for plan in group)}>"
    exec(compile(source, name, "exec"), namespace)  # noqa: S102  # generated above, from no pipeline text
    run_chunks = namespace["run_chunks"]
    run_chunks.source = source  # what ran, for tests and debugging
    return run_chunks
