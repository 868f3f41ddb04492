"""archive.registry."""
