"""The holdout experiment stage: the held-out campaigns' closed buckets, gathered per campaign, give
running uplift estimates on ``experiment-results`` (``agents.py`` wiring, ``processor.py`` logic)."""
