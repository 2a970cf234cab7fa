"""Using a trained run: predict, evaluate, overlay."""
