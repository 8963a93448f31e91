"""Code that the web nodes and the shard workers must agree on, one small module per concern.

- ``config`` (every setting, declared once) and ``env`` (reading an environment value);
- ``operations`` (every kind of operation and what it does), ``outcomes`` (statuses and
  refusals), ``messages`` (the wire format between web and worker), ``ledger`` (a ledger row
  and a pending record, built from ``tables``), ``tables`` (SQLAlchemy mirrors of the schema);
- ``holds`` and ``transfers`` (a hold's states; a transfer's legs and their ids), ``money``
  (amounts), ``rates`` (rate limits), ``sharding`` (wallet -> queue), ``keys`` (every Redis key
  name);
- ``rq_contract`` and ``rq_presence`` (everything taken from RQ's internals), ``connections``
  (Redis clients and the workers' engines), ``audit`` (the ledger checks), ``errors`` (the
  error hierarchy), ``logs``, ``batch_metrics``.

``shared`` imports neither ``web`` nor ``worker`` (``make lint`` holds it).
"""
