"""Routes of the appointments service (``/api/appointments/``)."""
