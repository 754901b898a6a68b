"""skdropout: adaptive dropout and iteratively reweighted regularization as duals.

LeJeune, Javadi and Baraniuk, "The Flip Side of the Reweighted Coin: Duality of Adaptive
Dropout and Regularization", NeurIPS 2021.
"""

__version__ = "0.1.0"

from . import penalties  # noqa: F401
from .penalties import get_penalty  # noqa: F401
