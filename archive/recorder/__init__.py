"""archive.recorder."""
