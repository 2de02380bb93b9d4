"""Benchmarks of o2-provision: instrumentation overhead, export under trouble, CLI start-up, apply, queries.

Run them all with ``python -m benchmarks [--quick]``, or one with ``python -m benchmarks.<name>``.
Every figure is printed next to a baseline measured in the same run.
"""
