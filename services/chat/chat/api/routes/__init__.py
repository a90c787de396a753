"""Routes of the chat service, one module per resource."""
