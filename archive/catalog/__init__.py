"""archive.catalog."""
