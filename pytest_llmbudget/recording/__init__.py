"""Cassettes: naming, record modes, matching, scrubbing and atomic saving."""
