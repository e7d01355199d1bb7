"""Backends: the integer reference simulator and the Lava code generator (installed as ``snncc.backends``)."""
