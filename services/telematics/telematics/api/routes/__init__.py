"""Routes of the telematics service, one module per resource."""
