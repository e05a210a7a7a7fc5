"""Helpers of experiments/humaneval_study.py (the script directory is on sys.path)."""
