"""Benchmarks, run on purpose and never in `make test`: `.venv/bin/python -m bench.<name>` from
the repository root. bench/support.py holds what they share with the fault scenarios (chaos/).
Latest figures: docs/PERFORMANCE.md.
"""
