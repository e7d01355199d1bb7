"""The version of snncc (a module of its own, so that no module imports the package to read it)."""

__version__ = "0.1.0"
