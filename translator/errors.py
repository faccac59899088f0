"""Every exception the translator raises, from a malformed file to a failing document.

Translation-time errors stop the processor and point into the pipeline; an
:class:`ExpressionError` concerns one document at run time and sends it to the DLQ.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SHOWN = 5  # problems listed in one message before "... and N more"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a pipeline, located by stage and field path."""

    stage_index: int | None
    stage_name: str | None
    field_path: str
    message: str
    within: str = ""  # the stage inside the stage's own pipeline, e.g. "pipeline.0 ($addFields)"

    def __str__(self) -> str:
        where = "pipeline" if self.stage_index is None else f"stage {self.stage_index} ({self.stage_name})"
        if self.within:
            where = f"{where} {self.within}"
        at = f" at {self.field_path}" if self.field_path else ""
        return f"{where}: {self.message}{at}"


class TranslateError(Exception):
    """Base of every error found before the dataflow runs."""


class PipelineSyntaxError(TranslateError):
    """The file is not Extended JSON, or not shaped like a pipeline."""


class SettingError(TranslateError):
    """An environment variable sluice reads (``SLUICE_METRICS_ADDR``, ``SLUICE_LOG_FORMAT``) is malformed."""


class PipelineValidationError(TranslateError):
    """Every problem found in a pipeline; ``problems`` keeps them for tools."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = [str(p) for p in problems[:MAX_SHOWN]]
        if len(problems) > MAX_SHOWN:
            lines.append(f"... and {len(problems) - MAX_SHOWN} more")
        super().__init__("\n".join(lines))


class SpecError(Exception):
    """A problem inside one stage's spec; the stage adds its index and name."""

    def __init__(self, message: str, path: tuple = (), within: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path  # relative to ``within`` when it is set
        self.within = within  # a stage inside the stage's pipeline: "pipeline.0 ($addFields)"


class ExpressionError(Exception):
    """An expression failed for one document; the reason follows mongod's wording."""


class ConversionFailure(ExpressionError):
    """A value that cannot be converted (mongod's ConversionFailure), which ``onError`` replaces.

    A malformed ``to``, ``format``, ``byteOrder``, ``subtype`` or timezone raises a plain
    ExpressionError instead: mongod does not let ``onError`` hide those.
    """
