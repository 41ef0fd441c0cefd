"""Evaluation: folds, metrics, cross-validation of strategies A/B/C, robustness, reports, plots."""
