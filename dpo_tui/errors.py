"""One exception tree: every message says what went wrong, where, and what to do."""

from __future__ import annotations

from pathlib import Path


class DpoError(Exception):
    """Base of every error dpo-tui reports to a user (the CLI prints it, exit code 1)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class LocatedError(DpoError):
    """An error at a place in a file: `file:line: problem`."""

    def __init__(
        self,
        path: Path | str,
        problem: str,
        *,
        line: int | None = None,
        unit: str = "line",
        hint: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}: {unit} {line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}", hint=hint)


class RubricError(LocatedError):
    """A rubric file that cannot be read or does not validate."""


class InputFileError(LocatedError):
    """An input file (prompts, candidates) that cannot be imported; nothing was written."""


class ProjectError(DpoError):
    """A project file that cannot be created, opened or written."""


class SchemaTooNewError(ProjectError):
    """The project file was written by a newer dpo-tui than this one."""


class GenerationError(DpoError):
    """A model that cannot be loaded or run: bad path, not GGUF, prompt over the context."""


class ContextOverflow(GenerationError):
    """A prompt and the answers asked of it do not fit the model's context."""
