"""Benchmarks, one module per measured path, over one shared harness (harness.py)."""
