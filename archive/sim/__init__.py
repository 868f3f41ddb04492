"""archive.sim."""
