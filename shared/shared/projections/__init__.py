"""Projections: a service's own copy of facts another service owns, fed by that service's
events, so it can answer without reading the owner's database or calling it on every
request. A module is named after the facts and the domain they belong to
(``vehicle_owners``: the vehicles service's ownership facts)."""
