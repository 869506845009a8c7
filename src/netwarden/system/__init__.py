"""Thin wrappers over Linux facilities that the standard library lacks."""
