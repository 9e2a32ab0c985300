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
    "tests/test_fit.py::test_default_model_regenerates_from_committed_results",
    "tests/test_fit.py::test_fit_offset_recovers_the_hold_pedestal_per_direction",
    "tests/test_mvm.py::test_codes_equal_ideal_quantisation",
    "tests/test_cli.py::test_demo_writes_plot_and_summary",
    "tests/test_held_out.py::test_macro_vs_spice_backward_64_cells_per_line",
    "tests/test_macro_engine.py::test_macro_matches_spice_on_held_out_16x16",
    "tests/test_mvm.py::test_auto_zero_removes_the_neurons_mismatch_offsets",
    "tests/test_mvm.py::test_nonideal_sky130_with_wires_completes",
    "tests/test_fit.py::test_default_model_codes_recomputed_from_the_committed_mvms",
    "tests/test_fit.py::test_default_model_energy_recomputed_from_the_committed_mvms",
    "tests/test_fit.py::test_fit_cli_writes_model_and_verilog_a",
)


def pytest_collection_modifyitems(config, items):
    def rank(item):
        for i, prefix in enumerate(LONG_FIRST):
            if item.nodeid.startswith(prefix):
                return i
        return len(LONG_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
