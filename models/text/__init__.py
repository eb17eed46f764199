"""Batched BERT text scoring: loading local checkpoints, micro-batching, caches and its benchmark."""
