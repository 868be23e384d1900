"""Performance benchmarks (run on purpose, not in the test suite): ``python -m benchmarks.<name>``;
figures go to ``benchmarks/results/<name>.json``."""
