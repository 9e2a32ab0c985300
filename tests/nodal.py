"""Independent nodal solve of a linear-cell array with wire resistance (scipy.sparse).

Written from the array's documented topology, not from the generator's code: BL r runs along
row r with its driven port at column bl_tap[r]; SL c runs along column c with its (floating)
port at row sl_tap[c]; segment resistance is r_per_um * pitch; cell (r, c) is a conductance
between BL r and SL c at that position.
"""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve


def solve_array(g_s, v_rows, r_seg_x, r_seg_y, bl_tap=None, sl_tap=None):
    g_s = np.asarray(g_s, float)
    rows, cols = g_s.shape
    bl_tap = [0] * rows if bl_tap is None else bl_tap
    sl_tap = [0] * cols if sl_tap is None else sl_tap
    nb = rows * cols
    n = 2 * nb  # BL nodes then SL nodes, one per cell position

    def b(r, c):
        return r * cols + c

    def s(r, c):
        return nb + r * cols + c

    i_idx, j_idx, val = [], [], []

    def stamp(a, bb, g):
        i_idx.extend([a, bb, a, bb])
        j_idx.extend([a, bb, bb, a])
        val.extend([g, g, -g, -g])

    for r in range(rows):
        for c in range(cols):
            stamp(b(r, c), s(r, c), g_s[r, c])
            if c:
                stamp(b(r, c - 1), b(r, c), 1 / r_seg_x)
            if r:
                stamp(s(r - 1, c), s(r, c), 1 / r_seg_y)
    G = sp.csr_matrix((val, (i_idx, j_idx)), shape=(n, n))
    fixed = np.array([b(r, bl_tap[r]) for r in range(rows)])
    v_fixed = np.asarray(v_rows, float)
    free = np.setdiff1d(np.arange(n), fixed)
    rhs = -G[free][:, fixed] @ v_fixed
    v = np.empty(n)
    v[fixed] = v_fixed
    v[free] = spsolve(G[free][:, free].tocsc(), rhs)
    return np.array([v[s(sl_tap[c], c)] for c in range(cols)])
