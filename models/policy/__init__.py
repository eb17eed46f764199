"""Decisions per SKU: the (s, S) restock rule, the live discount policy and the state they read."""
