"""Across quarters: `planlib new` (next quarter's plan) and `planlib compare` (trend and portfolio pages)."""
