"""One module per kind of ``$source``; each registers its planner with ``source_variant``."""
