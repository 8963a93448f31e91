"""``make bench`` and ``make bench-compare``: the throughput benchmark and its side-by-side runner."""
