"""Stage 01 — 项目背景与目标: SMART checks and baselines from data."""
