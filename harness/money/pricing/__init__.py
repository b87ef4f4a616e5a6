"""`gpucost price` as a library call, split along its jobs: `request.py` (what is asked and
answered), `run.py` (`price_runs`: load every input, then compute), `checks.py` (what may be
priced together), `notes.py` (what travels with the price), `sensitivity.py` (plans ×
utilisations)."""

from harness.money.pricing.request import PriceRequest, PriceResult, Sensitivity
from harness.money.pricing.run import price_runs

__all__ = ["PriceRequest", "PriceResult", "Sensitivity", "price_runs"]
