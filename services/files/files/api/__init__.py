"""HTTP side of the files service: its dependencies (deps) and routes."""
