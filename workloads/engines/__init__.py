"""Execution engines: how a workload's model runs (eager PyTorch, or compiled with torch.compile).

`base` holds the interface the text workload drives; `eager` and `compiled` are the variants.
"""
