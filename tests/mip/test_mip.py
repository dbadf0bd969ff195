import dataclasses
from collections import OrderedDict

import pyscipopt
import pytest
import torch
from torch import nn

from benchmark.core.errors import ConfigError, SolverError
from benchmark.core.records import SolverStats
from benchmark.methods import ScoringContext, prune
from benchmark.mip.bounds import interval_bounds
from benchmark.mip.config import MIPConfig
from benchmark.mip.scorer import build_model, check_encoding, score_network
from benchmark.nn.models import build_model as build_net
from benchmark.nn.models import prunable_layers


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

    no_bias = dataclasses.replace(layers.LINEAR_MAPS[nn.Linear],
                                  affine=lambda m, x, b: torch.nn.functional.linear(x, m.weight))
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
    assert result.solver.binaries_after_stable_removal == unstable
    assert result.solver.binaries_before_stable_removal == total == 10 * (6 * 28 * 28 + 16 * 10 * 10 + 120 + 84)
    assert result.solver.binaries == unstable


def test_scores_mask_and_stats(trained_lenet, mip_batch):
    result = score_network(trained_lenet[1].model, *mip_batch, MIPConfig(loss="margin"), threshold=0.2)
    assert list(result.scores) == ["conv1", "conv2", "fc1", "fc2"]
    for name, layer in prunable_layers(trained_lenet[1].model).items():
        s = result.scores[name]
        assert s.shape == (layer.weight.shape[0],) and 0 <= s.min() and s.max() <= 1
        assert torch.equal(result.mask[name], s >= 0.2)
    solver = result.solver
    assert solver.status in ("optimal", "gaplimit") and solver.dense_start_accepted
    assert solver.primal_bound >= solver.dual_bound - 1e-6 and solver.nodes >= 1 and solver.lp_iterations > 0
    assert solver.variables > solver.binaries and solver.constraints > 0 and solver.rows_emitted > 0
    assert solver.build_seconds > 0 and solver.solve_seconds > 0
    assert solver.scip_version and solver.pyscipopt_version == pyscipopt.__version__
    assert (solver.solver, solver.solver_version) == ("scip", solver.scip_version)
    assert solver.threshold == 0.2 and solver.empty_layer_guard == () and solver.warnings == ()
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
    """Every hidden unit is dead on the batch, so pruning all of them is free: the guard must keep one."""
    net = _dead_neuron_net()
    with torch.no_grad():
        net.fc1.bias.fill_(-5.0)
    x, y = torch.tensor([[1.0, 0.2], [0.1, 1.0]]), torch.tensor([0, 1])
    result = score_network(net, x, y, MIPConfig(loss="margin"), threshold=0.1)
    assert result.scores["fc1"].tolist() == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)
    assert result.mask["fc1"].tolist() == [True, False, False]  # the best-scored (first of the ties) is kept
    assert result.solver.empty_layer_guard == ("fc1",)


def test_sum_largest_aggregation_matches_its_definition(trained_fc3, mip_batch):
    config = MIPConfig(loss="margin", aggregation="sum_largest")
    encoded, z = build_model(trained_fc3[1].model, *mip_batch, config)
    m, variables = encoded.builder.scip
    m.optimize()
    sol = m.getBestSol()
    terms = [sum(sol[variables[j]] - 2 for j in ids.tolist()) / len(ids) for ids in encoded.scores.values()]
    hinge = sum(sol[v] for v in m.getVars() if v.name.startswith("hinge")) / 10
    assert m.getObjVal() == pytest.approx(config.lam * hinge + max(terms), abs=1e-5)  # S=2: the larger term


def test_relaxed_has_no_binaries(trained_lenet, mip_batch):
    result = score_network(trained_lenet[1].model, *mip_batch, MIPConfig(loss="margin", relaxed=True), threshold=0.2)
    assert result.solver.binaries == 0 and result.solver.binaries_after_stable_removal == 0


def _unstable_net():
    """A random 8-16-16-4 ReLU net; with a wide input box most ReLUs are unstable and branching is needed."""
    torch.manual_seed(0)
    net = nn.Sequential(OrderedDict([("fc1", nn.Linear(8, 16)), ("relu1", nn.ReLU()), ("fc2", nn.Linear(16, 16)),
                                     ("relu2", nn.ReLU()), ("out", nn.Linear(16, 4))]))
    return net, torch.rand(8, 8), torch.arange(8) % 4


def test_node_limit_keeps_the_incumbent_and_records_status():
    net, x, y = _unstable_net()
    config = MIPConfig(loss="margin", epsilon=0.3, n_samples=8, node_limit=1)
    result = score_network(net, x, y, config, threshold=0.1)
    solver = result.solver
    assert solver.status == "nodelimit" and solver.nodes == 1 and solver.gap > 0
    with torch.no_grad():
        z = net(x)
    hinge = (1 + z.scatter(1, y[:, None], -torch.inf).max(1).values - z.gather(1, y[:, None])[:, 0]).clamp_min(0)
    dense_start = config.lam * float(hinge.mean()) - 2.0  # each layer term is (1/16) sum (1 - 2) = -1 at s = 1
    assert solver.primal_bound < dense_start - 0.1  # SCIP's improved incumbent is what comes back
    assert sum(int(m.sum()) for m in result.mask.values()) < 32 and solver.warnings == ()


def test_solver_limits_and_seed_reach_scip():
    config = MIPConfig(loss="margin", time_limit=12.5, node_limit=7, gap=0.01, solver_seed=3)
    encoded, _ = build_model(_dead_neuron_net(), torch.rand(2, 2), torch.tensor([0, 1]), config)
    params = encoded.builder.scip.model.getParams()
    assert (params["limits/time"], params["limits/nodes"], params["limits/gap"]) == (12.5, 7, 0.01)
    assert params["randomization/randomseedshift"] == 3
    assert params["timing/clocktype"] == 1 and params["parallel/maxnthreads"] == 1  # CPU seconds, one thread


def test_limit_hit_on_the_dense_start_warns_that_nothing_is_pruned():
    net, x, y = _unstable_net()
    stopped = score_network(net, x, y, MIPConfig(loss="margin", epsilon=0.3, n_samples=8, node_limit=0), 0.1)
    assert stopped.solver.status == "nodelimit"
    assert all(m.all() for m in stopped.mask.values())
    assert stopped.solver.warnings == ("node limit hit before SCIP improved on the dense start: nothing is pruned; "
                                       "raise --node-limit",)
    solved = score_network(_dead_neuron_net(), *_two_samples(), MIPConfig(loss="margin"), threshold=0.1)
    assert solved.solver.status == "optimal" and solved.solver.warnings == ()


def _two_samples():
    return torch.tensor([[1.0, 0.2], [0.1, 1.0]]), torch.tensor([0, 1])


def test_infeasible_model_is_a_one_line_solver_error(trained_fc3, mip_batch):
    config = MIPConfig(loss="margin")
    encoded, _ = build_model(trained_fc3[1].model, *mip_batch, config)
    model, variables = encoded.builder.scip
    model.addCons(variables[encoded.scores["fc1"][0]] >= 2.0)  # scores live in [0, 1]
    from benchmark.mip.solve import solve

    with pytest.raises(SolverError, match="no feasible solution"):
        solve(encoded.builder.scip, config)


@pytest.mark.parametrize("module,message", [
    (nn.MaxPool2d(2), r"unsupported layer MaxPool2d at position 2 \('pool'\)"),
    (nn.Sigmoid(), r"unsupported layer Sigmoid at position 2 \('pool'\)"),
    (nn.Conv2d(4, 4, 1, padding_mode="reflect"), r"unsupported Conv2d padding_mode='reflect' at position 2"),
])
def test_unsupported_module_is_one_line_before_any_scip_model(mip_batch, monkeypatch, module, message):
    net = nn.Sequential(OrderedDict([("conv", nn.Conv2d(3, 4, 3)), ("relu", nn.ReLU()), ("pool", module),
                                     ("flat", nn.Flatten()), ("out", nn.Linear(4, 10))]))  # never run

    def no_model(*args, **kwargs):
        raise AssertionError("a SCIP model was built before the network was checked")

    monkeypatch.setattr(pyscipopt, "Model", no_model)
    with pytest.raises(ConfigError, match=message) as error:
        score_network(net, *mip_batch, MIPConfig(loss="margin"), threshold=0.1)
    assert "\n" not in str(error.value) and "the MIP encodes Linear, Conv2d" in str(error.value)


def test_export_formats(trained_fc3, mip_batch, tmp_path):
    model = trained_fc3[1].model
    x, y = mip_batch[0][:2], mip_batch[1][:2]
    score_network(model, x, y, MIPConfig(loss="ce", n_samples=2), 0.1, export_path=tmp_path / "fc3.cip")
    result = score_network(model, x, y, MIPConfig(loss="margin", n_samples=2), 0.1, export_path=tmp_path / "fc3.mps")
    reread = pyscipopt.Model()
    reread.hideOutput()
    reread.readProblem(str(tmp_path / "fc3.mps"))
    assert reread.getNVars() == result.solver.variables
    assert (tmp_path / "fc3.cip").stat().st_size > 0
    with pytest.raises(ConfigError, match="export to .cip"):
        score_network(model, x, y, MIPConfig(loss="ce"), 0.1, export_path=tmp_path / "fc3.lp")


def test_same_seed_same_scores(trained_lenet, mip_batch):
    config = MIPConfig(loss="margin", solver_seed=3)
    a = score_network(trained_lenet[1].model, *mip_batch, config, 0.2)
    b = score_network(trained_lenet[1].model, *mip_batch, config, 0.2)
    assert all(torch.equal(a.scores[k], b.scores[k]) for k in a.scores)


@pytest.mark.parametrize("changes,message", [
    ({"loss": "hinge2"}, "loss must be one of ce, margin, got 'hinge2'"),
    ({"bounds": "loose"}, "bounds must be one of dense, pruned, got 'loose'"),
    ({"node_limit": -2}, "node_limit must be >= -1, got -2"),
    ({"time_limit": 0}, "time_limit must be > 0, got 0"),
    ({"n_samples": "10"}, "n_samples must be int, got '10'"),
    ({"gap": -0.1}, "gap must be >= 0, got -0.1"),
])
def test_config_refuses_bad_values_in_one_line(changes, message):
    with pytest.raises(ConfigError, match=message) as error:
        MIPConfig(**changes)
    assert "\n" not in str(error.value)


def test_config_defaults_help_texts_and_presets():
    config = MIPConfig()
    assert (config.bounds, config.node_limit) == ("dense", -1)
    assert not hasattr(config, "threshold")  # tau is the target (benchmark.methods.Target), not a MIP setting
    assert MIPConfig.preset("reference-code").aggregation == "sum_largest"
    assert not hasattr(MIPConfig, "replace")
    for f in dataclasses.fields(MIPConfig):
        assert len(f.metadata["help"]) > 20, f.name
    helps = {f.name: f.metadata["help"] for f in dataclasses.fields(MIPConfig)}
    assert "seconds" in helps["time_limit"] and "-1" in helps["node_limit"]
    assert {f.name: f.metadata.get("choices") for f in dataclasses.fields(MIPConfig) if "choices" in f.metadata} == {
        "loss": ("ce", "margin"), "aggregation": ("sum", "sum_largest"), "conv_normaliser": ("filters", "filters_k2"),
        "bounds": ("dense", "pruned"), "block_bounds": ("network", "local"),
        "solver": ("auto", "scip", "highs", "clarabel"), "bound_propagation": ("interval", "symbolic")}


@pytest.mark.parametrize("model_name,dataset,expected,kept", [
    ("fc3", "mnist", 0.1, [True, True, False]),
    ("lenet5", "fashion-mnist", 0.2, [True, False, False]),  # scores 0.153, 0.140, 0: the guard keeps the best
    ("fc3", "cifar10", 0.3, [True, False, False]),
])
def test_unset_threshold_is_the_papers_for_model_and_dataset(model_name, dataset, expected, kept):
    ctx = ScoringContext(batch=_two_samples(), model_name=model_name, dataset=dataset,
                         options=MIPConfig(loss="margin", n_samples=2))
    result = prune("mip", _dead_neuron_net(), ctx)
    assert result.stats["threshold"] == expected
    assert result.mask["fc1"].tolist() == kept
    assert (result.stats["empty_layer_guard"] == ["fc1"]) == (expected > 0.16)
    assert set(result.scores.stats) == {f.name for f in dataclasses.fields(SolverStats)} | {"config"}


def test_unset_threshold_for_a_dataset_without_paper_defaults_is_one_line():
    ctx = ScoringContext(batch=_two_samples(), model_name="fc3", dataset="svhn",
                         options=MIPConfig(loss="margin", n_samples=2))
    with pytest.raises(ConfigError, match="no paper defaults for dataset 'svhn'"):
        prune("mip", _dead_neuron_net(), ctx)


def test_solver_stats_as_dict_is_plain():
    stats = SolverStats(status="optimal", primal_bound=1.0, dual_bound=1.0, gap=0.0, nodes=1, lp_iterations=2,
                        solve_seconds=0.1, build_seconds=0.2, variables=3, binaries=0, constraints=4,
                        binaries_before_stable_removal=5, binaries_after_stable_removal=0, stable_inactive=2,
                        stable_active=3, rows_emitted=4, scip_version="10", pyscipopt_version="6",
                        dense_start_accepted=True, threshold=0.1, empty_layer_guard=("fc1",), warnings=("w",))
    plain = stats.as_dict()
    assert plain["empty_layer_guard"] == ["fc1"] and plain["warnings"] == ["w"] and plain["nodes"] == 1
    assert list(plain) == [f.name for f in dataclasses.fields(SolverStats)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.status = "x"


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
    assert check_encoding(net, mip_batch[0][:4], bounds="pruned") < 1e-5
