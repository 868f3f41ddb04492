"""archive.integrity."""
