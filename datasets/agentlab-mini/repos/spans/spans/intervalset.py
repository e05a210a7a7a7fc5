"""A set of points kept as sorted, disjoint, non-touching intervals."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import Any

from spans.interval import Interval


class IntervalSet:
    """Union of intervals; adding merges, removing splits."""

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        self._items: list[Interval] = []
        for interval in intervals:
            self.add(interval)

    def add(self, interval: Interval) -> None:
        """Add ``interval``, merging it with every interval it touches."""
        if interval.empty:
            return
        merged = interval
        kept = []
        for index, item in enumerate(self._items):
            if item.start > merged.end:
                # Sorted and disjoint: nothing further right can touch.
                kept.extend(self._items[index:])
                break
            if item.touches(merged):
                merged = merged.union(item)
            else:
                kept.append(item)
        bisect.insort(kept, merged)
        self._items = kept

    def remove(self, interval: Interval) -> None:
        """Remove every point of ``interval``; intervals it cuts are split."""
        result: list[Interval] = []
        for item in self._items:
            result.extend(item.difference(interval))
        self._items = result

    def __contains__(self, point: Any) -> bool:
        index = bisect.bisect_right([i.start for i in self._items], point) - 1
        return index >= 0 and point in self._items[index]

    def __iter__(self) -> Iterator[Interval]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IntervalSet) and self._items == other._items

    def total(self, zero: Any = 0) -> Any:
        """Sum of lengths; pass ``zero=timedelta(0)`` for dates."""
        total = zero
        for item in self._items:
            total = total + item.length()
        return total

    def gaps(self, within: Interval) -> IntervalSet:
        """The parts of ``within`` that this set does not cover."""
        free = IntervalSet([within])
        for item in self._items:
            free.remove(item)
        return free

    def __and__(self, other: IntervalSet) -> IntervalSet:
        result = IntervalSet()
        for a in self._items:
            for b in other:
                common = a.intersection(b)
                if common is not None:
                    result.add(common)
        return result

    def __repr__(self) -> str:
        return "IntervalSet([" + ", ".join(str(i) for i in self._items) + "])"
