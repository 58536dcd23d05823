"""The client's version, sent in its User-Agent (keep it equal to pyproject.toml's)."""

__version__ = "0.1.0"
