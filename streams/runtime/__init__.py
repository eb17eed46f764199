"""What every agent family stands on: batched sends, table state, tenure, event-time clocks, forwarding."""
