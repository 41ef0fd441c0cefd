import numpy as np
import pytest
import scipy.sparse as sp


def random_mask(rng, n_out, n_in, density, empty_row=None, empty_col=None):
    m = (rng.random((n_out, n_in)) < density).astype(np.float64)
    if empty_row is not None:
        m[empty_row, :] = 0
    if empty_col is not None:
        m[:, empty_col] = 0
    return sp.csr_matrix(m)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
