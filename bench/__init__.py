"""Benchmarks: `python -m bench.service` (make bench), `python -m bench.provider` (make bench-provider)."""
