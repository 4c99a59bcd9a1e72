"""dp4kit: prepare Indonesian SIAK population data for elections (DP4, DAK2)."""

__version__ = "0.1.0"
