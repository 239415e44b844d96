"""Start-up trims for planlib's own command processes (``planlib run``/``batch`` and its workers).

``import nbformat`` — and so papermill, nbclient and nbconvert — imports jsonschema, whose
format checker imports ``rfc3987_syntax`` when it is installed (JupyterLab's event schemas
depend on it). That module compiles 39 Earley grammars at import time: 1.2 s on the 2-core
machines this runs on, more than the runner's whole set-up without it. nbformat validates
notebooks against schemas with no ``"format"`` keyword at all, so the grammars are never used
here: :func:`skip_iri_grammar` tells Python the module is absent, and jsonschema (which imports
it under ``suppress(ImportError)``) leaves out its two "iri" format checks.

Only the ``planlib`` command and its batch workers call this; a Jupyter server, a kernel or any
program that imports planlib as a library keeps its environment untouched.
"""

from __future__ import annotations

import sys

SKIPPED = "rfc3987_syntax"


def skip_iri_grammar() -> None:
    """Make ``import rfc3987_syntax`` fail fast in this process (if nothing imported it yet)."""
    if SKIPPED not in sys.modules:
        sys.modules[SKIPPED] = None  # type: ignore[assignment]  # the import system's "not here"
