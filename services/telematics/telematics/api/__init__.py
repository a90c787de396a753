"""HTTP side of the telematics service: its dependencies (deps) and routes."""
