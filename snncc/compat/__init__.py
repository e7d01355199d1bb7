"""Compatibility shims for third-party packages (kept in one place, each documented and tested)."""
