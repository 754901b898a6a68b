"""The ``skdropout`` command line (``skdropout --help``; also ``python -m skdropout``).

Subcommands: ``demo`` (the duality on scikit-learn's diabetes data and one sparsifier on the
digits), ``figure1`` (the paper's Figure 1), ``table4`` (the paper's Table 4 and Figure 2 on
MNIST), ``sparsify`` (train one sparsifier), ``fit`` (cross-validated IRLS on a CSV file).
Errors a person can act on print one line on stderr and exit with status 2.
"""

from ._main import build_parser, main

__all__ = ["build_parser", "main"]
