"""The streaming pipeline: entry points here, one folder per stage (see docs/architecture.md)."""
