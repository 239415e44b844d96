"""Planner forms in JupyterLab, generated from the plan schema, and saving plan files.

Workbooks call :func:`stage_form`; everything else here serves it.
"""

from planlib.forms.form import stage_form

__all__ = ["stage_form"]
