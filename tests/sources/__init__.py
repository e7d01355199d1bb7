"""Small networks built, run and exported to NIR by the SNN libraries themselves (the ground truth snncc's library
presets are tested against): one module per library, each with ``CASES``, a dict of case name -> builder."""
