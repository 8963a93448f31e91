"""Webhook delivery, its own process type (``python -m worker.webhooks``): the dispatcher turns
events into deliveries (``dispatch``), RQ jobs send them (``jobs``, ``deliveries``, ``http``)."""
