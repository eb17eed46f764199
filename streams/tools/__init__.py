"""Tools around the worker: demo, simulator, replay, benchmarks, tail, dashboard and the commands."""
