"""Feeder, streams, schedule and the training loop."""
