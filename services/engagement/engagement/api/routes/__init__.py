"""Routes of the engagement service, one module per resource."""
