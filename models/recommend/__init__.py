"""Recommendations: online user embeddings and the ranking of live campaign SKUs."""
