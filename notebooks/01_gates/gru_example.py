"""The course's fixed example parameters (H = 2 hidden units, D = 3 inputs), shared by
notebooks 01 and 02 (one file: 02's folder links to it), so that 02's sequence starts
from the step that 01 computes by hand."""
import numpy as np


def fixed_params():
    """The nine GRU parameters of the fixed example: ``W_F*`` (3, 2), ``W_R*`` (2, 2), ``b_*`` (2,)."""
    return {
        "W_Fz": np.array([[0.84, 0.43], [-0.47, 0.05], [0.58, 0.98]]),
        "W_Rz": np.array([[0.33, 0.53], [0.34, 0.81]]),
        "b_z": np.array([-0.6, 0.66]),
        "W_Fr": np.array([[-0.79, -0.76], [-0.9, 0.21], [-0.33, 0.57]]),
        "W_Rr": np.array([[-0.33, -0.04], [0.86, 0.07]]),
        "b_r": np.array([-0.73, -0.36]),
        "W_Fh": np.array([[0.33, 0.3], [-0.16, -0.05], [-0.06, -0.27]]),
        "W_Rh": np.array([[0.27, 0.3], [0.8, -0.24]]),
        "b_h": np.array([-0.17, 0.36]),
    }
