"""The Django web node: validates requests, enqueues operations, reads balances."""
