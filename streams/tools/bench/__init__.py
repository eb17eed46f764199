"""``flashsale bench``: throughput and latency of the real pipeline, measured against its own limits.

:mod:`streams.tools.bench.pipeline` compares the full worker with a trivial Faust pass-through agent and a raw
aiokafka consumer on the same topics in the same run; :mod:`streams.tools.bench.bert` compares the streaming
BERT stage with the model's own peak batched throughput. Figures are medians of repeats; nothing here
asserts a timing (see ``docs/benchmarks.md``).
"""
