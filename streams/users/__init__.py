"""The user path: clicks and orders → user embeddings → recommendations, over a catalog view."""
