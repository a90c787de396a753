"""HTTP side of the engagement service: its dependencies (deps) and routes."""
