"""civicloop: performance management and continuous improvement for public services."""
