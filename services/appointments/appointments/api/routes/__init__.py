"""Routes of the appointments service, one module per resource."""
