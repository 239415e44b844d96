"""Stage 04 — 实施计划: tasks, critical path, budget, XLSX and .ics exports."""
