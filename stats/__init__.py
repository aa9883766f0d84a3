"""Corpus statistics: the paper's Table 1 and more, plots, and the split-leak audit."""
