"""Routes of the vehicles service, one module per resource."""
