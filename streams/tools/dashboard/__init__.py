"""``flashsale dashboard``: an operators' live page of one namespace's sale.

A command of its own rather than a page on the worker's web server: it works whatever the number of
workers and their roles (each worker sees only its own partitions), it reads nothing but topics (a
group-less consumer, so it never slows a worker or moves the group's offsets), and it watches any
namespace, a replay's included (``FLASHSALE_TOPIC_PREFIX`` or ``--namespace``).

- :mod:`streams.tools.dashboard.state`: records folded into a snapshot (plain data, unit-tested), one
  :mod:`streams.tools.dashboard.sku_row` per SKU.
- :mod:`streams.tools.dashboard.feed`: the topic reader and the consumer-group lag probe that feed it.
- :mod:`streams.tools.dashboard.web`: the aiohttp app: ``/`` page, ``/events`` (SSE), ``/snapshot`` (JSON).
"""
