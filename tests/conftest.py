from pathlib import Path

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


#: the longest tests (``pytest --durations=30``), started first so that two workers do not end
#: with one of them alone on a long test: scheduling only, nothing is asserted from it
LONG_FIRST = (
    "tests/test_mvm.py::test_codes_equal_ideal_quantisation",
    "tests/test_mvm.py::test_auto_zero_removes_the_neurons_mismatch_offsets",
    "tests/test_neuron.py::test_charge_conservation_per_integration_step",
    "tests/test_macro_engine.py::test_macro_matches_spice_on_held_out_16x16",
    "tests/test_mvm.py::test_nonideal_sky130_with_wires_completes",
    "tests/test_mvm.py::test_nonideal_catches_integration_capacitor_10_percent_off",
    "tests/test_partition.py::test_cli_partition_and_jobs",
    "tests/test_mvm.py::test_backward_uses_the_same_array",
    "tests/test_mvm.py::test_code_check_catches_integration_capacitor_10_percent_off",
    "tests/test_mvm.py::test_backward_code_check_catches_integration_capacitor_10_percent_off",
    "tests/test_fit.py::test_default_model_codes_recomputed_from_the_committed_mvms",
    "tests/test_held_out.py::test_macro_vs_spice_backward_64_cells_per_line",
)


#: (module, fixture) of the costly simulations a module's tests share: their tests run on one
#: worker (``xdist_group``) so that the simulations run once per suite, not once per worker
#: that takes one of them (measured: the 16 x 8 spread runs were simulated four times, 290 s
#: of CPU for 78 s of work); the fixtures are session-scoped, so that no reordering tears them
#: down between two of their tests. (pytest < 9.2: pyproject.toml says why.)
SHARED_SIMULATIONS = (
    ("tests/test_mvm.py", "spread_runs"),
    ("tests/test_neuron.py", "sims"),
    ("tests/test_neuron_held.py", "sims"),
    ("tests/test_edges.py", "runs"),
    ("tests/test_held_out.py", "at_27c"),
)


def pytest_itemcollected(item):
    # at collection, before any pytest_collection_modifyitems (xdist's reads the groups there)
    for module, fixture in SHARED_SIMULATIONS:
        if item.nodeid.startswith(module + "::") and fixture in item.fixturenames:
            item.add_marker(pytest.mark.xdist_group(f"{Path(module).stem}.{fixture}"))


def pytest_collection_modifyitems(config, items):
    def rank(item):
        for i, prefix in enumerate(LONG_FIRST):
            if item.nodeid.startswith(prefix):
                return i
        return len(LONG_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
