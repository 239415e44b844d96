"""Exceptions raised by planlib.

Every error a *user* can cause derives from :class:`PlanError` and carries a message that
names the file, field or row and says how to fix it. The CLI prints such errors as plain
lines and exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is, what is wrong and how to fix it."""

    file: str
    where: str  # key path such as ``goals[0].target`` or ``第 12 行`` for data rows
    message: str
    hint: str = ""
    line: int | None = None

    def __str__(self) -> str:
        loc = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{loc}: {self.where}: {self.message}" if self.where else f"{loc}: {self.message}"
        return f"{text} — {self.hint}" if self.hint else text


class PlanError(Exception):
    """Root of every error caused by a user's input (plan file, data file, command line)."""


class PlanValidationError(PlanError):
    """A plan file (or several) failed validation; ``problems`` lists every issue found."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class DataError(PlanError):
    """A data file named in the plan cannot be read or holds values that cannot be used."""

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            self.problems = []
            super().__init__(problems)
        else:
            self.problems = list(problems)
            super().__init__("\n".join(str(p) for p in self.problems))


class ResultMissingError(PlanError):
    """A stage needs the stored result of an earlier stage that has not been run yet."""
