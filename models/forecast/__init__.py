"""Per-SKU demand: event-time buckets, online forecasters, and their evaluation on real series."""
