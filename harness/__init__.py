"""gpucost: what one AI inference costs and earns."""

__version__ = "0.1.0"
