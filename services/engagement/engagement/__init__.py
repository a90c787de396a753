"""The engagement service."""
