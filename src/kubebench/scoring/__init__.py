"""Scorers beside the cluster grader: text metrics (the Scorer protocol comes later)."""
