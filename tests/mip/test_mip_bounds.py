"""``MIPConfig.bounds``: dense interval bounds (the official code's, valid at s=1 only) against bounds valid for
every score in [0,1] (``pruned``). See docs/mip-bounds.md."""

from collections import OrderedDict

import torch
from torch import nn

from benchmark.mip.bounds import interval_bounds
from benchmark.mip.config import MIPConfig
from benchmark.mip.scorer import build_model, check_encoding, score_network
from benchmark.nn.models import prunable_layers


def _mixed_net() -> nn.Sequential:
    """Conv into affine BatchNorm (linear shift), conv into ReLU, Linear into Dropout then ReLU."""
    torch.manual_seed(0)
    net = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 4, 3, padding=1)), ("bn1", nn.BatchNorm2d(4)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(4, 4, 3)), ("relu2", nn.ReLU()), ("pool", nn.AvgPool2d(2)), ("flat", nn.Flatten()),
        ("fc", nn.Linear(36, 12)), ("drop", nn.Dropout(0.5)), ("relu3", nn.ReLU()), ("out", nn.Linear(12, 10))]))
    with torch.no_grad():
        net.train()(torch.rand(16, 3, 8, 8))  # running statistics
        net.bn1.weight.uniform_(-1.5, 1.5)  # negative scales too
        net.bn1.bias.uniform_(-0.2, 0.2)
    return net.double().eval()


@torch.no_grad()
def _outputs_with_scores(net: nn.Sequential, x: torch.Tensor, scores: dict, bounds) -> list[torch.Tensor]:
    """Every module's output with the scores applied as the encoder does: ``a - (1-s)*max(U,0)`` before an
    activation, ``a - (1-s)*U`` before anything else, ``U`` read from ``bounds``."""
    children, outputs = list(net.named_children()), []
    for position, (name, module) in enumerate(children):
        x = module(x)
        outputs.append(x)
        if name in scores:
            upper = bounds[position][1]
            following = next(m for _, m in children[position + 1:] if not isinstance(m, nn.Dropout))
            magnitude = upper.clamp_min(0) if isinstance(following, nn.ReLU) else upper
            s = scores[name].view(1, -1, *([1] * (x.dim() - 2)))
            x = x - (1 - s) * magnitude
    return outputs


def _violations(net, box, scored, bounds_scored, trials=30) -> int:
    bounds = interval_bounds(net, *box, scored=bounds_scored)
    generator = torch.Generator().manual_seed(1)
    worst = 0
    for trial in range(trials):
        x = box[0] + (box[1] - box[0]) * torch.rand(box[0].shape, generator=generator, dtype=torch.float64)
        scores = {name: torch.rand(layer.weight.shape[0], generator=generator, dtype=torch.float64)
                  for name, layer in scored.items()}
        if trial % 3 == 0:  # 0/1 masks as well
            scores = {name: (s > 0.5).double() for name, s in scores.items()}
        for out, (lo, hi) in zip(_outputs_with_scores(net, x, scores, bounds), bounds):
            worst += int(((out < lo - 1e-9) | (out > hi + 1e-9)).sum())
    return worst


def test_pruned_bounds_contain_the_network_under_every_score_and_dense_ones_do_not():
    net = _mixed_net()
    x = torch.rand(4, 3, 8, 8, dtype=torch.float64)
    box = (x - 0.05, x + 0.05)
    scored = prunable_layers(net)
    assert _violations(net, box, scored, bounds_scored=scored) == 0
    assert _violations(net, box, scored, bounds_scored=()) > 0  # dense bounds hold at s=1 only


def test_pruned_bounds_contain_the_dense_ones_and_widen_after_scored_layers(trained_lenet, mip_batch):
    x = mip_batch[0][:2].double()
    net = trained_lenet[1].model
    dense = interval_bounds(net.double().eval(), x - 1e-5, x + 1e-5)
    pruned = interval_bounds(net, x - 1e-5, x + 1e-5, scored=prunable_layers(net))
    net.float()
    assert torch.equal(dense[0][0], pruned[0][0]) and torch.equal(dense[0][1], pruned[0][1])  # conv1: the input
    assert all((lo_p <= lo_d + 1e-12).all() and (hi_p >= hi_d - 1e-12).all()
               for (lo_d, hi_d), (lo_p, hi_p) in zip(dense, pruned))
    assert (pruned[-1][1] - pruned[-1][0]).sum() > (dense[-1][1] - dense[-1][0]).sum()


def test_self_check_passes_with_pruned_bounds(trained_fc3, trained_lenet, mip_batch):
    assert check_encoding(trained_fc3[1].model, mip_batch[0], bounds="pruned") < 1e-5
    assert check_encoding(trained_lenet[1].model, mip_batch[0][:2], bounds="pruned") < 1e-5
    net = _mixed_net()
    assert check_encoding(net, torch.rand(3, 3, 8, 8, dtype=torch.float64), bounds="pruned") < 1e-5


def _status_with_scores_fixed(model, x, y, config: MIPConfig, mask: dict[str, torch.Tensor]) -> str:
    """SCIP's status for the OAMIP model with every score fixed to the 0/1 ``mask``."""
    encoded, _ = build_model(model, x, y, config)
    model, variables = encoded.builder.scip
    for name, ids in encoded.scores.items():
        for j, keep in zip(ids.tolist(), mask[name].tolist()):
            model.chgVarLb(variables[j], float(keep))
            model.chgVarUb(variables[j], float(keep))
    model.optimize()
    return model.getStatus()


def test_fc3_dense_bounds_refuse_the_mips_own_mask_and_pruned_bounds_accept_it(trained_fc3, mip_batch):
    """The documented finding: with dense bounds, the thresholded 0/1 mask of the solved MIP is infeasible."""
    model = trained_fc3[1].model
    dense, pruned = MIPConfig(loss="margin"), MIPConfig(loss="margin", bounds="pruned")
    mask = score_network(model, *mip_batch, dense, threshold=0.1).mask
    assert _status_with_scores_fixed(model, *mip_batch, dense, mask) == "infeasible"
    assert _status_with_scores_fixed(model, *mip_batch, pruned, mask) == "optimal"


def test_fc3_pruned_mips_own_mask_stays_feasible(trained_fc3, mip_batch):
    model, x, y = trained_fc3[1].model, mip_batch[0][:2], mip_batch[1][:2]
    config = MIPConfig(loss="margin", bounds="pruned", n_samples=2, node_limit=1)  # an incumbent, not the optimum
    mask = score_network(model, x, y, config, threshold=0.1).mask
    assert sum(int(m.sum()) for m in mask.values()) < 400  # it prunes
    assert _status_with_scores_fixed(model, x, y, config, mask) in ("optimal", "gaplimit")


def test_lenet_mask_stays_feasible_under_pruned_bounds(trained_lenet, mip_batch):
    """(The pruned-bounds LeNet-5 MIP itself takes minutes at its root node, so the dense MIP's mask is used.)"""
    model, x, y = trained_lenet[1].model, mip_batch[0][:2], mip_batch[1][:2]
    mask = score_network(model, x, y, MIPConfig(loss="margin", n_samples=2), threshold=0.2).mask
    assert sum(int(m.sum()) for m in mask.values()) < 226
    pruned = MIPConfig(loss="margin", bounds="pruned", n_samples=2)
    assert _status_with_scores_fixed(model, x, y, pruned, mask) in ("optimal", "gaplimit")
