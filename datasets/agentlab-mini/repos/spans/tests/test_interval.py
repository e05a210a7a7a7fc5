import unittest

from spans import Interval


class TestInterval(unittest.TestCase):
    def test_contains(self):
        span = Interval(1, 5)
        self.assertIn(1, span)
        self.assertIn(4, span)
        self.assertNotIn(5, span)

    def test_end_before_start(self):
        with self.assertRaisesRegex(ValueError, "before its start"):
            Interval(3, 1)

    def test_empty(self):
        self.assertTrue(Interval(2, 2).empty)
        self.assertFalse(Interval(2, 3).empty)

    def test_length(self):
        self.assertEqual(Interval(2, 7).length(), 5)

    def test_overlaps(self):
        self.assertTrue(Interval(1, 5).overlaps(Interval(4, 8)))
        self.assertFalse(Interval(1, 5).overlaps(Interval(6, 8)))

    def test_touches(self):
        self.assertTrue(Interval(1, 4).touches(Interval(3, 5)))
        self.assertFalse(Interval(1, 3).touches(Interval(4, 5)))

    def test_intersection(self):
        self.assertEqual(Interval(1, 5).intersection(Interval(3, 9)), Interval(3, 5))

    def test_intersection_disjoint(self):
        self.assertIsNone(Interval(1, 2).intersection(Interval(5, 6)))

    def test_union(self):
        self.assertEqual(Interval(1, 4).union(Interval(3, 6)), Interval(1, 6))

    def test_union_of_distant(self):
        with self.assertRaisesRegex(ValueError, "do not touch"):
            Interval(1, 2).union(Interval(5, 6))

    def test_difference_middle(self):
        self.assertEqual(Interval(0, 10).difference(Interval(3, 5)), [Interval(0, 3), Interval(5, 10)])

    def test_difference_left(self):
        self.assertEqual(Interval(0, 10).difference(Interval(-5, 4)), [Interval(4, 10)])

    def test_difference_all(self):
        self.assertEqual(Interval(2, 4).difference(Interval(0, 10)), [])

    def test_difference_disjoint(self):
        self.assertEqual(Interval(2, 4).difference(Interval(8, 10)), [Interval(2, 4)])

    def test_str(self):
        self.assertEqual(str(Interval(1, 2)), "[1, 2)")

    def test_ordering(self):
        self.assertEqual(sorted([Interval(3, 4), Interval(1, 9)]), [Interval(1, 9), Interval(3, 4)])
