"""civicloop's benchmarks. Run them all with `python -m benchmarks` (see README.md)."""
