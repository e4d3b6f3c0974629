import pytest

from demo.hosting import load_starter_catalog


@pytest.fixture
def catalog(db):
    load_starter_catalog()
