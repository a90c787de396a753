"""HTTP side of the auth service: its dependencies (deps) and routes."""
