"""snncc examples (importable so that tests can use their data helpers)."""
