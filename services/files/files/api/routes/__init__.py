"""Routes of the files service, one module per resource."""
