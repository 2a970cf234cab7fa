"""Text encoders (offline by default) and the embedding caches."""
