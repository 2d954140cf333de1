"""The intake attack tests run against the residents fixtures: callers of every role around one
cell, points and addresses there, and a client whose intake shares the test's session."""

from tests.residents.conftest import callers, client, here  # noqa: F401  (fixtures)
