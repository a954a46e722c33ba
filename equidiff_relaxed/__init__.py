"""equidiff-relaxed."""
