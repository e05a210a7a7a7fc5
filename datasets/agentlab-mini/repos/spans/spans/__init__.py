"""spans: half-open intervals, sets of intervals, and date ranges."""

from spans.dates import daterange, parse_span, weeks
from spans.interval import Interval
from spans.intervalset import IntervalSet

__all__ = ["Interval", "IntervalSet", "daterange", "parse_span", "weeks"]
