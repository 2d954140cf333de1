"""The council tests use the lists' callers: staff of the test community and street, the same
roles elsewhere, a grid worker and a planner."""

from tests.community.lists.conftest import callers  # noqa: F401
