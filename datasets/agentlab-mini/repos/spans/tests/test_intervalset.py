import unittest
from datetime import date, timedelta

from spans import Interval, IntervalSet


class TestIntervalSet(unittest.TestCase):
    def test_add_disjoint_sorted(self):
        s = IntervalSet([Interval(5, 6), Interval(1, 2)])
        self.assertEqual(list(s), [Interval(1, 2), Interval(5, 6)])

    def test_add_merges_overlapping(self):
        s = IntervalSet([Interval(1, 4), Interval(3, 6)])
        self.assertEqual(list(s), [Interval(1, 6)])

    def test_add_bridges_several(self):
        s = IntervalSet([Interval(1, 3), Interval(4, 6), Interval(7, 9)])
        s.add(Interval(2, 8))
        self.assertEqual(list(s), [Interval(1, 9)])

    def test_add_empty_ignored(self):
        self.assertEqual(len(IntervalSet([Interval(3, 3)])), 0)

    def test_contains(self):
        s = IntervalSet([Interval(1, 3), Interval(5, 7)])
        self.assertIn(2, s)
        self.assertNotIn(4, s)
        self.assertNotIn(7, s)
        self.assertNotIn(0, s)

    def test_remove_cuts_end(self):
        s = IntervalSet([Interval(0, 10)])
        s.remove(Interval(8, 20))
        self.assertEqual(list(s), [Interval(0, 8)])

    def test_remove_whole(self):
        s = IntervalSet([Interval(0, 10), Interval(20, 30)])
        s.remove(Interval(0, 10))
        self.assertEqual(list(s), [Interval(20, 30)])

    def test_total(self):
        self.assertEqual(IntervalSet([Interval(0, 2), Interval(5, 9)]).total(), 6)

    def test_total_dates(self):
        d = date(2024, 1, 1)
        s = IntervalSet([Interval(d, d + timedelta(days=3))])
        self.assertEqual(s.total(zero=timedelta(0)), timedelta(days=3))

    def test_equality(self):
        self.assertEqual(IntervalSet([Interval(1, 2)]), IntervalSet([Interval(1, 2)]))
        self.assertNotEqual(IntervalSet([Interval(1, 2)]), IntervalSet())

    def test_repr(self):
        self.assertEqual(repr(IntervalSet([Interval(1, 2)])), "IntervalSet([[1, 2)])")
