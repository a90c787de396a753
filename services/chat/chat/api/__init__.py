"""HTTP side of the chat service: its dependencies (deps) and routes."""
