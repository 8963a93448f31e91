"""Running the service: its supervisor, dashboard, gunicorn configuration, the processes the
benchmark and the tests start, and the benchmark itself."""
