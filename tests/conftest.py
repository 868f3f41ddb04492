"""Shared pytest wiring: fixtures live in tests/fixtures/ as plugins."""

pytest_plugins = [
    "tests.fixtures.catalog",
    "tests.fixtures.s3",
    "tests.fixtures.cameras",
    "tests.fixtures.seaweed_cluster",
    "tests.fixtures.private_pg",
]
