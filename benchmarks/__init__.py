"""Performance benchmarks (run on purpose, not in the test suite); figures go to ``benchmarks/results/``."""
