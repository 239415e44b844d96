"""Figures every stage computes the same way: RFM, tiers and segments, lifetime value, the customer table, KPI values over a window."""
