"""``flashsale plan``: sale timing (活动时机) from the history the stream kept, and its validation."""
