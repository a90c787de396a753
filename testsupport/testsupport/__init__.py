"""Test support for every package's tests, the e2e tests and the benchmarks: the pytest
fixtures (``pytest_plugin``), real broker and database URLs (``infra``), apps run in
process (``apps``), a PgBouncer (``pgbouncer``) and a throwaway local topology
(``topology``). A development dependency of the workspace only: no service image ships it.
"""
