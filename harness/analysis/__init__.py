"""Analysis of measured rows: roofline efficiency, projection to other GPUs, instance comparison,
the cost–interactivity frontier and the cheapest choice that meets an SLO."""
