"""Establishment identity files loaded in bulk."""
