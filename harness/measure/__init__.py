"""Measurement: the sweep over batch sizes, timers, FLOP counting, memory checks, calibration."""
