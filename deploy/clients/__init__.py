"""Typed HTTP clients of the five services, over one shared base (base.py)."""
