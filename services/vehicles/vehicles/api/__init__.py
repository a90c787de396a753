"""HTTP side of the vehicles service: its dependencies (deps) and routes."""
