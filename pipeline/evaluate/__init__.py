"""What a set of trained streams adds up to: the ensemble, the report's figures and pages,
the paper's tables beside its published numbers (pure metrics live in pipeline/metrics.py,
below train and evaluate, so neither imports the other)."""
