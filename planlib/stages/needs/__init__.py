"""Stage 02 — 客户分层与需求分析: tier values, tier movement, tier lists."""
