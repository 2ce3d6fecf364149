"""Metric definitions: what is counted, filtered and compared, and how it is computed."""
