"""Code that the web nodes and the shard workers must agree on.

One small module per concern: ``config`` (environment), ``errors`` (the error
hierarchy), ``money`` (amount parsing and formatting), ``sharding`` (wallet ->
queue), ``keys`` (Redis key names), ``messages`` (the wire format between web
and worker) and ``tables`` (SQLAlchemy Core mirrors of the Django schema).
"""
