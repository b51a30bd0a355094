"""joinedup: make better use of a UK public body's data."""

__version__ = "0.1.0"
