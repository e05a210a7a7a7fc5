import unittest
from datetime import date

from spans import Interval, daterange, parse_span, weeks


class TestDaterange(unittest.TestCase):
    def test_daily(self):
        days = list(daterange(date(2024, 1, 30), date(2024, 2, 2)))
        self.assertEqual(days, [date(2024, 1, 30), date(2024, 1, 31), date(2024, 2, 1)])

    def test_step(self):
        self.assertEqual(len(list(daterange(date(2024, 1, 1), date(2024, 1, 15), step=7))), 2)

    def test_bad_step(self):
        with self.assertRaisesRegex(ValueError, "positive number of days"):
            list(daterange(date(2024, 1, 1), date(2024, 1, 2), step=0))

    def test_empty(self):
        self.assertEqual(list(daterange(date(2024, 1, 2), date(2024, 1, 1))), [])


class TestWeeks(unittest.TestCase):
    def test_whole_weeks(self):
        span = Interval(date(2024, 1, 1), date(2024, 1, 15))  # Mondays
        self.assertEqual(len(weeks(span)), 2)

    def test_partial_weeks(self):
        span = Interval(date(2024, 1, 3), date(2024, 1, 10))  # Wednesday to Wednesday
        self.assertEqual(
            weeks(span),
            [Interval(date(2024, 1, 3), date(2024, 1, 8)), Interval(date(2024, 1, 8), date(2024, 1, 10))],
        )


class TestParseSpan(unittest.TestCase):
    def test_exclusive(self):
        self.assertEqual(parse_span("2024-01-01..2024-02-01"), Interval(date(2024, 1, 1), date(2024, 2, 1)))

    def test_inclusive(self):
        self.assertEqual(parse_span("2024-01-01..=2024-01-14").end, date(2024, 1, 15))

    def test_missing_separator(self):
        with self.assertRaisesRegex(ValueError, "expected 'start..end'"):
            parse_span("2024-01-01")

    def test_bad_date(self):
        with self.assertRaisesRegex(ValueError, "bad date"):
            parse_span("2024-13-01..2024-14-01")
