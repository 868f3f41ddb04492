"""archive: forensic CCTV recording and evidence retrieval."""

__version__ = "0.1.0"
