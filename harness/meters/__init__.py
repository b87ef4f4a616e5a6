"""Measurement: timers, the NVML adapter, the background sampler, and a null meter for CPU runs."""
