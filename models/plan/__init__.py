"""Sale timing (活动时机): demand by time of day learnt from the stream's history, and the plan it gives."""
