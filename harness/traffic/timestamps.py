"""Wall-clock timestamps in traces, as seconds since the epoch. A time without a zone is taken as
UTC: only differences between arrivals matter for a replay."""

from __future__ import annotations

from datetime import datetime, timezone

from harness.traffic.base import LineError


def epoch_seconds(text: str, what: str = "timestamp") -> float:
    """ISO 8601 date and time (`2023-11-16 18:15:46.6805900`, `...T...Z`, `...+00:00`)."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise LineError(f"{what} {text[:40]!r} is not an ISO date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
