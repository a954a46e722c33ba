"""Evaluation per orientation region: paired episode plans, vectorized rollouts, statistics, reports, diagnostics."""
