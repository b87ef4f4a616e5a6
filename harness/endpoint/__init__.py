"""Endpoint runs: load a live OpenAI-compatible server at set concurrency levels or request rates
and write one measurement row per load level on the same results contract as in-process runs."""
