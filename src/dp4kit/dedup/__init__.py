"""Duplicate finding: exact tiers (D, K1, K2) and fuzzy candidates (K3)."""

# The default K3 review probability: pairs at least this likely to be one person are listed
# for review (docs/k3.md says how it was chosen on the benchmark's tuning sets).
K3_REVIEW = 0.5
