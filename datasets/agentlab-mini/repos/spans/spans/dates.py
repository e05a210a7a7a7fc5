"""Date helpers: stepping through ranges, ISO weeks, and ``start..end`` notation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from spans.interval import Interval


def daterange(start: date, end: date, step: int = 1) -> Iterator[date]:
    """Dates from ``start`` up to, not including, ``end``, every ``step`` days."""
    if step <= 0:
        raise ValueError(f"step must be a positive number of days, got {step}")
    day = start
    while day < end:
        yield day
        day += timedelta(days=step)


def week_start(day: date) -> date:
    """The Monday of the ISO week holding ``day``."""
    return day - timedelta(days=day.weekday())


def weeks(span: Interval) -> list[Interval]:
    """Split a date interval at Monday boundaries; the first and last pieces may be short."""
    pieces = []
    start = span.start
    while start < span.end:
        end = min(week_start(start) + timedelta(days=7), span.end)
        pieces.append(Interval(start, end))
        start = end
    return pieces


def parse_span(text: str) -> Interval:
    """Read ``2024-01-01..2024-02-01`` (end excluded) or ``2024-01-01..=2024-01-31``."""
    left, sep, right = text.strip().partition("..")
    if not sep:
        raise ValueError(f"expected 'start..end', got {text!r}")
    right = right.strip()
    inclusive = right.startswith("=")
    try:
        start = date.fromisoformat(left.strip())
        end = date.fromisoformat(right.lstrip("=").strip())
    except ValueError:
        raise ValueError(f"bad date in {text!r}") from None
    if inclusive:
        end += timedelta(days=1)
    return Interval(start, end)
