"""Analysis of measured rows: roofline efficiency, projection to other GPUs, instance comparison."""
