"""The MIP's sparse route, taken beyond ``DENSE_LIMIT`` (full-width VGG-16 blocks): each layer's sparse matrix is
the layer itself, and the encoding built on those matrices, with its materialised variables, reproduces the
network and reaches the dense route's optimum. The tests force the route on small networks."""

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.mip import affine
from benchmark.mip.config import MIPConfig
from benchmark.mip.encode import encode_network
from benchmark.mip.layers import LINEAR_MAPS
from benchmark.mip.scorer import check_encoding, score_network

LAYERS = [
    (nn.Conv2d(4, 6, 3, padding=1), (4, 7, 7)),
    (nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2), (4, 9, 8)),
    (nn.Conv2d(4, 6, 1, bias=False), (4, 5, 5)),
    (nn.Conv2d(4, 6, (2, 4), padding="same", dilation=(1, 2)), (4, 7, 9)),  # even kernels: torch pads unevenly
    (nn.Conv2d(4, 6, 3, padding="valid"), (4, 6, 6)),
    (nn.AvgPool2d(2), (3, 8, 8)),
    (nn.AdaptiveAvgPool2d(3), (3, 8, 8)),
    (nn.AdaptiveAvgPool2d(2), (3, 1, 1)),  # the VGG heads' upsampling pool
    (nn.Linear(12, 5), (12,)),
    (nn.Linear(4, 5), (3, 4)),  # acting on the last dimension
    (nn.Flatten(), (3, 2, 2)),
    (nn.BatchNorm2d(3, affine=False), (3, 4, 4)),
    (nn.BatchNorm1d(5), (5,)),
    (nn.Dropout(0.5), (7,)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's own note on the reference conv
@pytest.mark.parametrize("module, shape", LAYERS, ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else "")
def test_each_layer_matrix_is_the_layer_without_its_bias(module, shape):
    torch.manual_seed(0)
    module = module.double().eval()
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        module.running_mean.uniform_(-1, 1)
        module.running_var.uniform_(0.5, 2.0)
    op = LINEAR_MAPS[type(module)]
    x = torch.randn(3, *shape, dtype=torch.float64)
    with torch.no_grad():
        expected = op.affine(module, x, False).reshape(3, -1).numpy()
    got = (op.matrix(module, shape) @ x.reshape(3, -1).numpy().T).T
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.fixture
def sparse_route(monkeypatch):
    """Every layer takes the sparse route, and every fan-in materialises its multi-term inputs."""
    monkeypatch.setattr(affine, "DENSE_LIMIT", 0)
    monkeypatch.setattr(affine, "FILL_LIMIT", 0)


def test_the_sparse_route_reproduces_the_network(trained_lenet, mip_batch, sparse_route):
    model, x = trained_lenet[1].model, mip_batch[0][:2]
    encoded = encode_network(model, x, 1e-5, relaxed=False)
    assert any(group.prefix == "y" for group in encoded.builder.instance.groups)  # materialised variables were made
    reference = model.double().eval()(x.double()).detach()
    model.float()
    for logits, expected in zip(encoded.logits, reference):  # the expressions, at the dense start
        assert float((logits.value(encoded.builder.start) - expected).abs().max()) < 1e-9
    assert check_encoding(model, x) < 1e-5  # the rows: SCIP, with every score fixed to 1, finds the same logits


def test_the_sparse_route_reaches_the_dense_routes_optimum(trained_fc3, mip_batch, monkeypatch):
    model, config = trained_fc3[1].model, MIPConfig(loss="margin")
    dense = score_network(model, *mip_batch, config, threshold=0.2)
    monkeypatch.setattr(affine, "DENSE_LIMIT", 0)
    monkeypatch.setattr(affine, "FILL_LIMIT", 0)
    sparse = score_network(model, *mip_batch, config, threshold=0.2)
    assert dense.solver.status == sparse.solver.status == "optimal"
    assert sparse.solver.variables > dense.solver.variables  # the materialised variables
    assert sparse.solver.primal_bound == pytest.approx(dense.solver.primal_bound, rel=1e-6)
