"""The shard worker: claims batches of operations from its shard queues and applies
them to PostgreSQL in one transaction each, then replies to the waiting web nodes."""
