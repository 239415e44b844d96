"""Stage 03 — 互动渠道选择: channel plan, rates from last quarter, the mix optimiser."""
