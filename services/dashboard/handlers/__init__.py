"""The dashboard's use cases: taking events into the read model (`facts`, `people`)."""
