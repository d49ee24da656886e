"""Evaluate: compare a run with its base model and baselines on held-out examples."""
