"""The benchmark (``benchmarks/run.py`` is its entry point; see its docstring)."""
