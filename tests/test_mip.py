from collections import OrderedDict

import pyscipopt
import pytest
import torch
from torch import nn

from benchmark.errors import ConfigError, SolverError
from benchmark.mip.bounds import interval_bounds
from benchmark.mip.config import MIPConfig, default_threshold
from benchmark.mip.scorer import build_model, check_encoding, score_network
from benchmark.models import build_model as build_net
from benchmark.models import prunable_layers


def test_self_check_fc3_real_images(trained_fc3, mip_batch):
    assert check_encoding(trained_fc3[1].model, mip_batch[0]) < 1e-5


def test_self_check_lenet5_real_images(trained_lenet, mip_batch):
    assert check_encoding(trained_lenet[1].model, mip_batch[0]) < 1e-5


def test_self_check_vgg_block_real_images(mip_batch):
    vgg = build_net("vgg16", width_divisor=16, seed=0)
    vgg.train()
    with torch.no_grad():  # give BatchNorm real running statistics
        for _ in range(3):
            vgg(mip_batch[0])
    block = nn.Sequential(OrderedDict(list(vgg.named_children())[:7] + [
        ("flatten", nn.Flatten()), ("out", nn.Linear(4 * 16 * 16, 10))]))
    assert check_encoding(block, mip_batch[0][:3]) < 1e-5


def test_self_check_detects_a_wrong_encoding(trained_fc3, mip_batch, monkeypatch):
    """The check can fail: a layer map that forgets the bias must show up."""
    from benchmark.mip import layers

    no_bias = layers.LinearMap(lambda m, x, b: torch.nn.functional.linear(x, m.weight),
                               layers.LINEAR_MAPS[nn.Linear].magnitude)
    monkeypatch.setitem(layers.LINEAR_MAPS, nn.Linear, no_bias)
    assert check_encoding(trained_fc3[1].model, mip_batch[0]) > 1e-3


def test_only_unstable_relus_get_binaries(trained_lenet, mip_batch):
    model = trained_lenet[1].model
    result = score_network(model, *mip_batch, MIPConfig(loss="margin"), threshold=0.2)
    x = mip_batch[0].double()
    bounds = interval_bounds(model.double().eval(), x - 1e-5, x + 1e-5)
    model.float()
    relu_inputs = [bounds[i - 1] for i, m in enumerate(model.children()) if isinstance(m, nn.ReLU)]
    unstable = sum(int(((lo < 0) & (hi > 0)).sum()) for lo, hi in relu_inputs)
    total = sum(lo.numel() for lo, _ in relu_inputs)
    assert result.stats["binaries_after_stable_removal"] == unstable
    assert result.stats["binaries_before_stable_removal"] == total == 10 * (6 * 28 * 28 + 16 * 10 * 10 + 120 + 84)
    assert result.stats["binaries"] == unstable


def test_scores_mask_and_stats(trained_lenet, mip_batch):
    result = score_network(trained_lenet[1].model, *mip_batch, MIPConfig(loss="margin"), threshold=0.2)
    assert list(result.scores) == ["conv1", "conv2", "fc1", "fc2"]
    for name, layer in prunable_layers(trained_lenet[1].model).items():
        s = result.scores[name]
        assert s.shape == (layer.weight.shape[0],) and 0 <= s.min() and s.max() <= 1
        assert torch.equal(result.mask[name], s >= 0.2)
    for key in ("status", "primal_bound", "dual_bound", "gap", "nodes", "lp_iterations", "variables", "binaries",
                "constraints", "build_seconds", "solve_seconds", "scip_version", "pyscipopt_version"):
        assert key in result.stats
    assert result.stats["status"] in ("optimal", "gaplimit") and result.stats["dense_start_accepted"]
    assert sum(int(m.sum()) for m in result.mask.values()) < 226  # something is pruned


def _dead_neuron_net():
    """2 inputs -> 3 hidden (hidden 2 is never active) -> 2 outputs."""
    net = nn.Sequential(OrderedDict([("fc1", nn.Linear(2, 3)), ("relu1", nn.ReLU()), ("out", nn.Linear(3, 2))]))
    with torch.no_grad():
        net.fc1.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
        net.fc1.bias.copy_(torch.tensor([0.0, 0.0, -1.0]))
        net.out.weight.copy_(torch.tensor([[4.0, -4.0, 1.0], [-4.0, 4.0, 1.0]]))
        net.out.bias.zero_()
    return net


def test_hand_checked_dead_neuron_scores_zero_and_needed_neurons_stay():
    x = torch.tensor([[1.0, 0.2], [0.1, 1.0]])  # class 0, class 1
    y = torch.tensor([0, 1])
    result = score_network(_dead_neuron_net(), x, y, MIPConfig(loss="margin", lam=50.0), threshold=0.1)
    s = result.scores["fc1"]
    assert s[2] == pytest.approx(0.0, abs=1e-6)  # never active: pruning it is free
    assert s[0] > 0.1 and s[1] > 0.1  # each carries one class's margin
    assert result.mask["fc1"].tolist() == [True, True, False]


def test_empty_layer_guard_keeps_best_unit_and_is_recorded():
    x, y = torch.tensor([[1.0, 0.2], [0.1, 1.0]]), torch.tensor([0, 1])
    result = score_network(_dead_neuron_net(), x, y, MIPConfig(loss="margin", lam=0.01), threshold=1.0)
    assert int(result.mask["fc1"].sum()) >= 1
    if not any(s >= 1.0 for s in result.scores["fc1"].tolist()):
        assert result.stats["empty_layer_guard"] == ["fc1"]


def test_sum_largest_aggregation_matches_its_definition(trained_fc3, mip_batch):
    config = MIPConfig(loss="margin", aggregation="sum_largest")
    encoded, z = build_model(trained_fc3[1].model, *mip_batch, config)
    m = encoded.builder.model
    m.optimize()
    sol = m.getBestSol()
    terms = [sum(sol[encoded.builder.vars[j]] - 2 for j in ids.tolist()) / len(ids) for ids in encoded.scores.values()]
    hinge = sum(sol[v] for v in m.getVars() if v.name.startswith("hinge")) / 10
    assert m.getObjVal() == pytest.approx(config.lam * hinge + max(terms), abs=1e-5)  # S=2: the larger term


def test_relaxed_has_no_binaries(trained_lenet, mip_batch):
    result = score_network(trained_lenet[1].model, *mip_batch, MIPConfig(loss="margin", relaxed=True), threshold=0.2)
    assert result.stats["binaries"] == 0 and result.stats["binaries_after_stable_removal"] == 0


def test_time_limit_keeps_incumbent_and_records_status(trained_fc3, mip_batch):
    result = score_network(trained_fc3[1].model, *mip_batch, MIPConfig(loss="ce", time_limit=1.0), threshold=0.1)
    assert result.stats["status"] == "timelimit" and result.stats["gap"] > 0
    assert all(m.any() for m in result.mask.values())


def test_infeasible_model_is_a_one_line_solver_error(trained_fc3, mip_batch):
    config = MIPConfig(loss="margin")
    encoded, _ = build_model(trained_fc3[1].model, *mip_batch, config)
    first_score = encoded.builder.vars[encoded.scores["fc1"][0]]
    encoded.builder.model.addCons(first_score >= 2.0)  # scores live in [0, 1]
    from benchmark.mip.solve import solve

    with pytest.raises(SolverError, match="no feasible solution"):
        solve(encoded.builder.model, config)


def test_unsupported_layer_is_named_with_its_position(mip_batch):
    net = nn.Sequential(OrderedDict([("conv", nn.Conv2d(3, 4, 3)), ("relu", nn.ReLU()), ("pool", nn.MaxPool2d(2)),
                                     ("flat", nn.Flatten()), ("out", nn.Linear(4 * 15 * 15, 10))]))
    with pytest.raises(ConfigError, match=r"unsupported layer MaxPool2d at position 2 \('pool'\)"):
        score_network(net, *mip_batch, MIPConfig(loss="margin"), threshold=0.1)


def test_export_formats(trained_fc3, mip_batch, tmp_path):
    model = trained_fc3[1].model
    x, y = mip_batch[0][:2], mip_batch[1][:2]
    score_network(model, x, y, MIPConfig(loss="ce", n_samples=2), 0.1, export_path=tmp_path / "fc3.cip")
    result = score_network(model, x, y, MIPConfig(loss="margin", n_samples=2), 0.1, export_path=tmp_path / "fc3.mps")
    reread = pyscipopt.Model()
    reread.hideOutput()
    reread.readProblem(str(tmp_path / "fc3.mps"))
    assert reread.getNVars() == result.stats["variables"]
    assert (tmp_path / "fc3.cip").stat().st_size > 0
    with pytest.raises(ConfigError, match="export to .cip"):
        score_network(model, x, y, MIPConfig(loss="ce"), 0.1, export_path=tmp_path / "fc3.lp")


def test_same_seed_same_scores(trained_lenet, mip_batch):
    config = MIPConfig(loss="margin", solver_seed=3)
    a = score_network(trained_lenet[1].model, *mip_batch, config, 0.2)
    b = score_network(trained_lenet[1].model, *mip_batch, config, 0.2)
    assert all(torch.equal(a.scores[k], b.scores[k]) for k in a.scores)


def test_config_validation_and_thresholds():
    with pytest.raises(ConfigError, match="unknown loss"):
        MIPConfig(loss="hinge2")
    with pytest.raises(ConfigError, match="threshold must be at most 1"):
        MIPConfig(threshold=1.5)
    assert MIPConfig.preset("reference-code").aggregation == "sum_largest"
    assert (default_threshold("fc3", "mnist"), default_threshold("lenet5", "mnist"),
            default_threshold("lenet5", "cifar10")) == (0.1, 0.2, 0.3)


def test_self_check_covers_stride_padding_groups_adaptive_pool_affine_bn_and_dropout(mip_batch):
    torch.manual_seed(0)
    net = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 4, 3, stride=2, padding=1)), ("bn1", nn.BatchNorm2d(4)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(4, 4, 3, padding=2, groups=2)), ("relu2", nn.ReLU()), ("drop", nn.Dropout(0.5)),
        ("pool", nn.AdaptiveAvgPool2d(3)), ("flat", nn.Flatten()), ("fc", nn.Linear(36, 12)),
        ("bn2", nn.BatchNorm1d(12)), ("relu3", nn.ReLU()), ("out", nn.Linear(12, 10))]))
    with torch.no_grad():
        net.train()(mip_batch[0])  # running statistics
        for bn in (net.bn1, net.bn2):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    assert check_encoding(net.eval(), mip_batch[0][:4]) < 1e-5
    result = score_network(net, *mip_batch, MIPConfig(loss="margin"), threshold=0.1)
    assert set(result.scores) == {"conv1", "conv2", "fc"}
