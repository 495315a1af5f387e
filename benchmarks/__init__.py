"""Benchmarks: speed and memory figures, each next to a reference measured in the same run."""
