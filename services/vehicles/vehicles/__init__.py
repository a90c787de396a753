"""The vehicles service: members' vehicles, their OBD-II dongles and odometers."""
