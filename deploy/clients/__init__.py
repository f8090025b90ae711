"""Typed HTTP clients of the four services, over one shared base (base.py)."""
