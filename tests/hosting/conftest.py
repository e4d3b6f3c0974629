import pytest

from hosting.catalog import load_starter_catalog


@pytest.fixture
def catalog(db):
    load_starter_catalog()
