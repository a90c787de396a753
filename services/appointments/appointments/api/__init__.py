"""HTTP side of the appointments service: its dependencies (deps) and routes."""
