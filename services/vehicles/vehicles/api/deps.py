"""Dependencies specific to the vehicles service: none.

Its routes need only the shared ones (``shared.deps.DbSession``, ``ReadSession``,
``OutboxDep`` and ``shared.auth.CurrentPrincipal``); a dependency of its own, one that
reads ``request.app.state``, goes here.
"""
