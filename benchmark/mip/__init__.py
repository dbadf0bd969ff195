"""The OAMIP neuron-importance MIP: one recorded program, solved by SCIP, HiGHS or Clarabel (``MIPConfig.solver``).

``score(model, ctx)`` is the one call the harness and the baselines share (it is the ``mip`` method):
a trained model plus a :class:`~benchmark.methods.ScoringContext` (batch, labels, ``options["mip_config"]``)
give per-layer scores, a mask and statistics.
"""

from benchmark.mip.config import MIPConfig
from benchmark.mip.method import MIPMethod, score
from benchmark.mip.scorer import MIPResult, check_encoding, score_network

__all__ = ["MIPConfig", "MIPMethod", "MIPResult", "check_encoding", "score", "score_network"]
