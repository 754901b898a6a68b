"""Data sets in scikit-learn's ``fetch_*`` style: MNIST for the paper's Table 4.

Files are read from a data home (``data_home=``, else ``$SKDROPOUT_DATA``, else
``~/skdropout_data``), verified by the SHA-256 of their decompressed content, and cached as
``.npz`` in a writable folder (see :func:`get_cache_home`).
"""

from ._home import get_cache_home, get_data_home
from ._idx import parse_idx, read_idx
from ._mnist import fetch_mnist

__all__ = ["fetch_mnist", "get_cache_home", "get_data_home", "parse_idx", "read_idx"]
