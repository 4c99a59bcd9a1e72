"""Duplicate finding: exact tiers (D, K1, K2) and fuzzy candidates (K3)."""
