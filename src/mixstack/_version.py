"""The package version, in a module of its own so any part can read it without importing
the package root (which lists the public API)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
