"""Exceptions raised by planlib.

Every error a *user* can cause derives from :class:`PlanError` and carries a message that
names the file, field or row and says how to fix it. The CLI prints such errors as plain
lines and exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Characters that would let a value echoed in a message change the terminal or forge a line:
# C0 controls (newline, CR, ESC, BEL …), DEL, C1 controls, the Unicode line/paragraph separators,
# the bidirectional overrides and isolates, lone surrogates, the BOM and the noncharacters FFFE/FFFF.
_OTHERS = r"\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufeff\ufffe\uffff"
_CONTROLS = re.compile(r"[\x00-\x1f" + _OTHERS + "]")
_CONTROLS_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f" + _OTHERS + "]")


def _escape(ch: str) -> str:
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def escape_controls(text: object, *, keep_newlines: bool = False) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\x1b``): a value echoed in
    a message stays on its line and cannot colour or move the terminal's cursor.
    ``keep_newlines`` keeps the line breaks of a message built from several lines."""
    pattern = _CONTROLS_BUT_NEWLINE if keep_newlines else _CONTROLS
    return pattern.sub(lambda m: {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(m[0]) or _escape(m[0]), str(text))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is, what is wrong and how to fix it."""

    file: str
    where: str  # key path such as ``goals[0].target`` or ``第 12 行`` for data rows
    message: str
    hint: str = ""
    line: int | None = None

    def __str__(self) -> str:
        """One line: values quoted from the input have their control characters escaped."""
        file, where, message, hint = map(escape_controls, (self.file, self.where, self.message, self.hint))
        loc = f"{file}:{self.line}" if self.line else file
        text = f"{loc}: {where}: {message}" if where else f"{loc}: {message}"
        return f"{text} — {hint}" if hint else text


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
