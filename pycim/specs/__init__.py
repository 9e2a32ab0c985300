"""Specifications every stage reads (frozen, validated dataclasses; no circuit code)."""
