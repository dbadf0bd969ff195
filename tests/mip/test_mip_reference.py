"""The reference-style encoding of the speed benchmark (benchmark/perf/reference_encoding.py) and this suite's
encoding are the same model: on a small instance both reach the same optimal objective."""

import pytest

from benchmark.mip.config import MIPConfig
from benchmark.mip.scorer import score_network
from benchmark.perf.reference_encoding import build_reference


def test_reference_style_encoding_reaches_the_same_optimum(trained_fc3, mip_batch):
    model, x, y = trained_fc3[1].model, mip_batch[0][:2], mip_batch[1][:2]
    config = MIPConfig(loss="margin", n_samples=2, gap=1e-7)
    ours = score_network(model, x, y, config, threshold=0.1).solver
    reference = build_reference(model, x, y, config)
    reference_binaries = reference.getNBinVars()
    reference.optimize()
    assert ours.status == reference.getStatus() == "optimal"
    assert ours.primal_bound == pytest.approx(reference.getObjVal(), abs=1e-5)
    assert ours.binaries < reference_binaries  # stable ReLUs left without an indicator
