"""One renderer per output format, each reading a RunSummary."""
