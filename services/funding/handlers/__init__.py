"""Funding use cases, each inside the caller's unit of work: one module per concern."""
