"""Routes of the auth service, one module per resource."""
