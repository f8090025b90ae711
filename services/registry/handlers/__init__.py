"""Registry use cases, one module per concern; each runs in the caller's unit of work."""
