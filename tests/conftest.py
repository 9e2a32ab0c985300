import numpy as np
import pytest

from pycim.sim import PRECISE_OPTIONS, NgspiceEngine, VacaskEngine


@pytest.fixture(scope="session")
def ngspice():
    return NgspiceEngine(timeout_s=120)


@pytest.fixture(scope="session")
def ngspice_precise():
    return NgspiceEngine(timeout_s=120, options=PRECISE_OPTIONS)


@pytest.fixture(scope="session")
def vacask():
    return VacaskEngine(timeout_s=120)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
