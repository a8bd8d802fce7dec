"""Benchmarks: run as `python -m bench.NAME [--full]` from the repository root."""
