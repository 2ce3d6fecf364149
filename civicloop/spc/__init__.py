"""Statistical process control: XmR (NHS Making Data Count), run (Anhøj), p, u, c, p' and u'.

Pure Python + NumPy, no Django. `analyse` takes one series, `analyse_many` a batch, analysed
together in one vectorised pass. The methods and every defined edge case are in docs/spc.md.
"""

from civicloop.spc.analysis import RunSignal, SpcBatch, SpcResult, analyse, analyse_many
from civicloop.spc.constants import CHARTS, DIRECTIONS
from civicloop.spc.engine import SpcInputError

__all__ = [
    "CHARTS",
    "DIRECTIONS",
    "RunSignal",
    "SpcBatch",
    "SpcInputError",
    "SpcResult",
    "analyse",
    "analyse_many",
]
