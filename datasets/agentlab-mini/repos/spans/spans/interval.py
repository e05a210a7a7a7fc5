"""A half-open interval ``[start, end)`` over any ordered values (numbers, dates, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class Interval:
    start: Any
    end: Any

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"interval end {self.end!r} is before its start {self.start!r}")

    @property
    def empty(self) -> bool:
        return self.start == self.end

    def length(self) -> Any:
        """``end - start``: a number for numbers, a timedelta for dates."""
        return self.end - self.start

    def __contains__(self, point: Any) -> bool:
        return self.start <= point < self.end

    def overlaps(self, other: Interval) -> bool:
        """Whether the two share at least one point (touching ends do not count)."""
        return self.start < other.end and other.start < self.end

    def touches(self, other: Interval) -> bool:
        """Whether the two overlap or meet end to start, so their union is one interval."""
        return self.start <= other.end and other.start <= self.end

    def intersection(self, other: Interval) -> Interval | None:
        """The common part, or None when they do not overlap."""
        if not self.overlaps(other):
            return None
        return Interval(max(self.start, other.start), min(self.end, other.end))

    def union(self, other: Interval) -> Interval:
        """The smallest interval holding both; they must touch."""
        if not self.touches(other):
            raise ValueError(f"{self} and {other} do not touch")
        return Interval(min(self.start, other.start), max(self.end, other.end))

    def difference(self, other: Interval) -> list[Interval]:
        """The parts of this interval outside ``other``: zero, one or two intervals."""
        if not self.overlaps(other):
            return [] if self.empty else [self]
        parts = []
        if self.start < other.start:
            parts.append(Interval(self.start, other.start))
        if other.end < self.end:
            parts.append(Interval(other.end, self.end))
        return parts

    def __str__(self) -> str:
        return f"[{self.start}, {self.end})"
