"""What the tests share: processes, stacks, HTTP clients, factories, a browser (never a test)."""
