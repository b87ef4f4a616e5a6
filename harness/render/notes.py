"""Notes as typed values (a kind and its text), so an output picks them by kind, never by the
wording of the text, and every output (terminal, HTML, Markdown, CSV/JSON metadata) carries the
same caveats from one list.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass


class NoteKind(enum.Enum):
    """What a note is about. The caveats say a number may not mean what it seems; the others
    explain how to read the output."""

    RANDOM_WEIGHTS = "random weights"
    CPU = "CPU"
    STALE_PRICES = "stale prices"
    LIST_PRICE = "prices to verify"
    PROJECTED = "projected"
    OTHER_HARDWARE = "other hardware"
    UNSTABLE = "unstable"
    ENERGY_ESTIMATE = "energy estimate"
    NO_GOODPUT = "no goodput"
    PRICE_SOURCE = "price source"
    UNATTRIBUTED = "unattributed"
    INPUT = "input"
    INFO = "info"

    @property
    def is_caveat(self) -> bool:
        """A caveat travels at the top of every output; the rest follow what they explain."""
        return self in CAVEAT_KINDS


CAVEAT_KINDS = frozenset(
    {
        NoteKind.RANDOM_WEIGHTS,
        NoteKind.CPU,
        NoteKind.STALE_PRICES,
        NoteKind.LIST_PRICE,
        NoteKind.PROJECTED,
        NoteKind.OTHER_HARDWARE,
    }
)


@dataclass(frozen=True)
class Note:
    kind: NoteKind
    text: str
    subject: str = ""
    """What the note is about (a workload, an instance key, a run id), so an output can keep
    only the notes about what it shows; empty for a note about everything shown."""

    def __str__(self) -> str:
        return self.text

    def as_dict(self) -> dict[str, str]:
        """For JSON metadata: the kind's value, the text and the subject."""
        return {"kind": self.kind.value, "text": self.text, "subject": self.subject}


def unique(notes: Iterable[Note]) -> list[Note]:
    """Each note once, in first-seen order (two sources may say the same thing)."""
    return list(dict.fromkeys(notes))


def caveats(notes: Iterable[Note]) -> list[Note]:
    return [n for n in unique(notes) if n.kind.is_caveat]


def of_kind(notes: Iterable[Note], *kinds: NoteKind) -> list[Note]:
    return [n for n in unique(notes) if n.kind in kinds]


def about(notes: Iterable[Note], subjects: Iterable[str]) -> list[Note]:
    """The notes about any of `subjects`, and those about everything shown."""
    wanted = set(subjects)
    return [n for n in unique(notes) if not n.subject or n.subject in wanted]


def stale_price_note(provider: str, as_of: str, source: str, today: str | None = None) -> Note:
    """A rate card's date and source; a caveat when the card is older than `STALE_DAYS`."""
    text = f"{provider} prices as of {as_of}" + (f": {source}" if source else "")
    try:
        age = (
            (dt.date.fromisoformat(today) if today else dt.date.today())
            - dt.date.fromisoformat(str(as_of)[:10])
        ).days
    except ValueError:
        return Note(NoteKind.STALE_PRICES, text + " (date unreadable: verify)", provider)
    if age > STALE_DAYS:
        return Note(NoteKind.STALE_PRICES, f"{text} ({age} days old: verify)", provider)
    return Note(NoteKind.PRICE_SOURCE, text, provider)


STALE_DAYS = 90
"""A rate card older than this is a caveat: cloud list prices change a few times a year."""
