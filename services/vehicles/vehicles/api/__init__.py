"""HTTP routes of the vehicles service."""
