"""Evaluation orchestration: grading predictions (``agentlab eval``) and run candidates."""
