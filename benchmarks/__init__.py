"""Benchmarks: ``python -m benchmarks.<name>``; figures go to ``benchmarks/results/<name>.json``."""
