"""Fixtures of the fault tests: one template cluster per run (migrated, demo loaded), and per test
a copy of it on its own port with a live API, always torn down."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.site import Site, Template, build_template, running_site


@pytest.fixture(scope="session")
def template() -> Iterator[Template]:
    built = build_template()
    try:
        yield built
    finally:
        built.cluster.destroy()


@pytest.fixture
def site(template: Template) -> Iterator[Site]:
    with running_site(template) as running:
        yield running
