"""Stage 05 — 效果评估与复盘: KPI table, funnel, uplift against control, A/B tests, diagnosis."""
