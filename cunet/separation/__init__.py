"""Separation: any model, any length, full-band stems (see load.py for the way in)."""
