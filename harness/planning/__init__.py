"""Planning the serving fleet: capacity under an SLO, demand per step and size bucket, the
cheapest mix of instance types and purchase plans (a mixed-integer program solved by HiGHS), its
baselines, its bill and its margin. Never imports torch or endpoint code; money formulas come
from `harness.money`."""
