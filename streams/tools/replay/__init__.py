"""``flashsale replay``: copy a time range into a namespace, run the pipeline on it, compare runs."""
