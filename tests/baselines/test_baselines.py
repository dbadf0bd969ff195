"""Golden, hand-checked tests pinning each baseline down, and the worked example of docs/adding-a-baseline.md."""

import copy
import dataclasses
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.core.config import TrainConfig
from benchmark.core.errors import ConfigError
from benchmark.methods import (
    PruneResult,
    Scores,
    ScoringContext,
    Target,
    get_method,
    method_options,
    prune,
    register,
)
from benchmark.nn.training import fit, fresh_model


def toy_net():
    """fc1: 3 hidden units with row L2 norms 5, 1, 2 (L1: 7, 1, 2); out: 3 -> 2."""
    net = nn.Sequential(OrderedDict([("fc1", nn.Linear(2, 3)), ("relu1", nn.ReLU()), ("out", nn.Linear(3, 2))]))
    with torch.no_grad():
        net.fc1.weight.copy_(torch.tensor([[3.0, 4.0], [0.0, -1.0], [2.0, 0.0]]))
        net.fc1.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
        net.out.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [-1.0, 1.5, 0.25]]))
        net.out.bias.copy_(torch.tensor([0.0, 0.1]))
    return net


def score(name, model, context):
    """The method's raw scores, with its options checked and typed as prune() does."""
    method = get_method(name)
    return method.score(model, dataclasses.replace(context, options=method_options(method, context.options)))


def ctx(**kwargs):
    batch = (torch.tensor([[1.0, 2.0], [0.5, -1.0]]), torch.tensor([0, 1]))
    return ScoringContext(batch=batch, **kwargs)


# --- magnitude ------------------------------------------------------------------------------------------------
def test_magnitude_neuron_level_prunes_smallest_norm_units():
    result = prune("magnitude", toy_net(), ctx(target=Target(sparsity=1 / 3)))
    assert result.mask["fc1"].tolist() == [True, False, True]  # norms 5, 1, 2
    assert torch.allclose(result.scores.values["fc1"], torch.tensor([5.0, 1.0, 2.0]))
    l1 = prune("magnitude", toy_net(), ctx(target=Target(sparsity=2 / 3), options={"norm": "l1"}))
    assert l1.mask["fc1"].tolist() == [True, False, False]
    # the pruned unit's incoming row and bias are zeroed, nothing else
    assert result.weight_mask["fc1.weight"].tolist() == [[True, True], [False, False], [True, True]]
    assert result.weight_mask["fc1.bias"].tolist() == [True, False, True]


def test_magnitude_weight_level_is_global():
    # |w| over fc1 and out: 3,4,0,1,2,0 | 1,2,.5,1,1.5,.25 -> the 4 smallest of 12 are 0, 0, .25, .5
    result = prune("magnitude", toy_net(), ctx(granularity="weight", target=Target(sparsity=4 / 12, scope="global")))
    assert result.mask["fc1.weight"].tolist() == [[True, True], [False, True], [True, False]]
    assert result.mask["out.weight"].tolist() == [[True, True, False], [True, True, False]]


# --- SNIP -----------------------------------------------------------------------------------------------------
def hand_snip(net, x, y):
    """|g * w| with g computed by hand: backprop through out(ReLU(fc1 x)) with mean cross-entropy."""
    w1, b1 = net.fc1.weight.detach().numpy(), net.fc1.bias.detach().numpy()
    w2, b2 = net.out.weight.detach().numpy(), net.out.bias.detach().numpy()
    x, y = x.numpy(), y.numpy()
    a = x @ w1.T + b1
    h = np.maximum(a, 0)
    z = h @ w2.T + b2
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    dz = (p - np.eye(2)[y]) / len(y)
    g2 = dz.T @ h
    g1 = ((dz @ w2) * (a > 0)).T @ x
    return np.abs(g1 * w1), np.abs(g2 * w2)


def test_snip_equals_hand_computed_gradient_times_weight():
    net = toy_net()
    context = ctx(granularity="weight", init_state=net.state_dict(), target=Target(sparsity=0.5))
    scores = score("snip", toy_net(), context).values
    s1, s2 = hand_snip(net, *context.batch)
    assert np.allclose(scores["fc1.weight"].numpy(), s1, atol=1e-6)
    assert np.allclose(scores["out.weight"].numpy(), s2, atol=1e-6)
    neuron = score("snip", toy_net(), ctx(init_state=net.state_dict()))
    assert np.allclose(neuron.values["fc1"].numpy(), s1.sum(1), atol=1e-6)


def test_snip_uses_gradients_not_weights():
    net = toy_net()
    x = torch.tensor([[0.0, 2.0], [0.0, -1.0]])  # first input is always 0: its weights get no gradient
    context = ScoringContext(batch=(x, torch.tensor([0, 1])), granularity="weight", init_state=net.state_dict())
    scores = score("snip", toy_net(), context).values["fc1.weight"]
    assert torch.all(scores[:, 0] == 0)  # although |w| there is 3 and 2
    assert scores[0, 1] > 0


def test_snip_scores_at_theta0_by_default_and_on_trained_weights_on_request():
    theta0, trained = toy_net(), toy_net()
    with torch.no_grad():
        trained.fc1.weight.mul_(3.0)
    before = {k: v.clone() for k, v in trained.state_dict().items()}
    at_init = score("snip", trained, ctx(granularity="weight", init_state=theta0.state_dict()))
    on_trained = score("snip", trained, ctx(granularity="weight", init_state=theta0.state_dict(),
                                                       options={"on_trained": True}))
    assert all(torch.equal(before[k], v) for k, v in trained.state_dict().items())  # the model is untouched
    assert np.allclose(at_init.values["fc1.weight"].numpy(), hand_snip(theta0, *ctx().batch)[0], atol=1e-6)
    assert np.allclose(on_trained.values["fc1.weight"].numpy(), hand_snip(trained, *ctx().batch)[0], atol=1e-6)
    assert not torch.allclose(at_init.values["fc1.weight"], on_trained.values["fc1.weight"])


# --- random ---------------------------------------------------------------------------------------------------
def test_random_exact_counts_no_duplicates_and_seeded():
    net = nn.Sequential(OrderedDict([("fc1", nn.Linear(4, 50)), ("relu", nn.ReLU()), ("out", nn.Linear(50, 3))]))
    counts = {"fc1": 17}
    a = prune("random", net, ctx(target=Target(counts=counts), seed=1))
    b = prune("random", net, ctx(target=Target(counts=counts), seed=1))
    c = prune("random", net, ctx(target=Target(counts=counts), seed=2))
    assert int(a.mask["fc1"].sum()) == 17 and len(set(torch.nonzero(a.mask["fc1"]).flatten().tolist())) == 17
    assert torch.equal(a.mask["fc1"], b.mask["fc1"]) and not torch.equal(a.mask["fc1"], c.mask["fc1"])
    w = prune("random", net, ctx(granularity="weight", target=Target(sparsity=0.3, scope="global"), seed=1))
    total = 4 * 50 + 50 * 3
    assert sum(int((~m).sum()) for m in w.mask.values()) == round(0.3 * total)


def test_random_keeps_every_unit_equally_often():
    """Over 400 seeds each of 4 units is kept in about half of the masks of 2: no unit is favoured by position.
    Binomial(400, 1/2) has std 10 around 200; drawing with replacement (ties broken by position) keeps the first
    unit about 260 times."""
    net = nn.Sequential(OrderedDict([("fc1", nn.Linear(4, 4)), ("relu", nn.ReLU()), ("out", nn.Linear(4, 3))]))
    kept = sum(prune("random", net, ctx(target=Target(counts={"fc1": 2}), seed=seed)).mask["fc1"].int()
               for seed in range(400))
    assert kept.sum() == 800 and kept.min() >= 170 and kept.max() <= 230


# --- critical -------------------------------------------------------------------------------------------------
def test_critical_is_exactly_the_complement_ordered_choice():
    net = nn.Sequential(OrderedDict([("fc1", nn.Linear(2, 5)), ("relu", nn.ReLU()), ("out", nn.Linear(5, 2))]))
    reference = PruneResult(Scores({"fc1": torch.tensor([0.9, 0.1, 0.5, 0.7, 0.0])}, "neuron"),
                            {"fc1": torch.tensor([True, False, True, True, False])}, {}, {})
    result = prune("critical", net, ctx(reference=reference))
    # the reference keeps 3 units (its highest: 0, 3, 2); critical keeps its 3 lowest: 4, 1, 2
    assert result.mask["fc1"].tolist() == [False, True, True, False, True]


def test_critical_refuses_a_reference_of_another_granularity():
    reference = prune("magnitude", toy_net(), ctx(target=Target(sparsity=1 / 3)))
    with pytest.raises(ConfigError, match="weight-level reference, not a neuron-level one"):
        prune("critical", toy_net(), ctx(granularity="weight", reference=reference))
    with pytest.raises(ConfigError, match="critical needs a reference"):
        prune("critical", toy_net(), ctx())


# --- lottery --------------------------------------------------------------------------------------------------
class Recorder:
    """A train callable that records the start weights of each round and trains for real."""

    def __init__(self, config, splits):
        self.config, self.splits, self.starts = config, splits, []

    def __call__(self, model, mask, epochs, max_steps=None):
        self.starts.append(({k: v.clone() for k, v in model.state_dict().items()}, mask))
        return fit(self.config, self.splits, start_state=model.state_dict(), mask=mask, epochs=epochs,
                   max_steps=max_steps).model


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam"])
def test_lottery_rewinds_to_theta0_and_keeps_pruned_weights_zero(mnist_small, optimizer):
    config = TrainConfig.paper("lenet5", "mnist", epochs=1, optimizer=optimizer, train_limit=0)
    theta0 = fresh_model(config, mnist_small)
    dense = fit(config, mnist_small).model
    recorder = Recorder(config, mnist_small)
    context = ScoringContext(batch=(None, None), splits=mnist_small, init_state=theta0.state_dict(), train=recorder,
                             train_epochs=1, granularity="weight", target=Target(sparsity=0.36, scope="global"))
    scores = score("lottery", dense, context)
    assert scores.stats["rounds"] == 2 and len(recorder.starts) == 2
    for start, mask in recorder.starts:  # every round starts from theta_0 under the mask, exactly
        for name, param in theta0.state_dict().items():
            expected = param * mask[name] if name in mask else param
            assert torch.equal(start[name], expected), name
    trained = recorder.__call__(dense, recorder.starts[-1][1], 1)
    for name, keep in recorder.starts[-1][1].items():
        assert torch.all(dict(trained.named_parameters())[name][~keep] == 0)


def test_lottery_sparsity_after_r_rounds(mnist_small):
    config = TrainConfig.paper("fc3", "mnist", epochs=1)
    dense = fit(config, mnist_small, epochs=0).model
    train = Recorder(config, mnist_small)
    context = ScoringContext(batch=(None, None), init_state=dense.state_dict(), train=train, granularity="weight",
                             target=Target(sparsity=1 - 0.8 ** 3 + 1e-9, scope="global"),
                             options={"round_epochs": 0})
    stats = score("lottery", dense, context).stats
    assert stats["rounds"] == 3
    for r, sparsity in enumerate(stats["sparsity_per_round"], start=1):
        assert sparsity == pytest.approx(1 - 0.8 ** r, abs=1e-5)


def test_lottery_late_rewinding_uses_theta_k(mnist_small):
    config = TrainConfig.paper("lenet5", "mnist", epochs=1)
    theta0 = fresh_model(config, mnist_small)
    recorder = Recorder(config, mnist_small)
    context = ScoringContext(batch=(None, None), init_state=theta0.state_dict(), train=recorder, train_epochs=1,
                             steps_per_epoch=5, target=Target(sparsity=0.2),
                             options={"rewind_iteration": 3, "round_epochs": 0})
    score("lottery", fit(config, mnist_small).model, context)
    theta_k = fit(config, mnist_small, start_state=theta0.state_dict(), epochs=1, max_steps=3).model.state_dict()
    start, mask = recorder.starts[1]
    assert torch.equal(start["fc1.weight"], theta_k["fc1.weight"] * mask["fc1.weight"])
    assert not torch.equal(theta_k["fc1.weight"], theta0.state_dict()["fc1.weight"])


# --- the worked example of docs/adding-a-baseline.md (the plug-in contract is in tests/methods) -------------
def test_the_docs_worked_example_runs_through_the_harness(mnist_small, trained_lenet):
    """docs/adding-a-baseline.md's example, executed as written and run by name: it keeps, in every layer, the
    units whose ReLU outputs carry the most energy, recomputed here by slicing the network."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "adding-a-baseline.md").read_text()
    code = text.split("```python\n")[1].split("```")[0]
    namespace = {}
    exec(compile(code, "adding-a-baseline.md", "exec"), namespace)
    register(namespace["ActivationEnergy"])
    model = trained_lenet[1].model.eval()
    context = ScoringContext(batch=(None, None), splits=mnist_small, target=Target(sparsity=0.5))
    result = prune("energy", model, context)
    x, _ = mnist_small.train.tensors(slice(0, 256))
    names = [name for name, _ in model.named_children()]
    for layer, keep in result.mask.items():
        with torch.no_grad():
            out = model[: names.index(layer) + 1](x).relu().pow(2)
        energy = out.mean(dim=[0] + list(range(2, out.dim())))
        assert energy[keep].min() >= energy[~keep].max(), layer


# --- lottery: the review's findings -----------------------------------------------------------------------------
def _lottery_ctx(splits, theta0, recorder, target, **options):
    return ScoringContext(batch=(None, None), splits=splits, init_state=theta0, train=recorder, train_epochs=1,
                          steps_per_epoch=5, target=target, options=options)


def test_lottery_late_rewinding_ranks_by_the_trained_weights(mnist_small):
    """Round 1 prunes by the trained network's norms, whatever the rewind point (not by theta_0's)."""
    from baselines.magnitude import unit_norms
    from benchmark.methods.selection import top_k_mask

    config = TrainConfig.paper("fc3", "mnist", epochs=1)
    theta0 = fresh_model(config, mnist_small)
    dense = fit(config, mnist_small).model
    recorder = Recorder(config, mnist_small)
    scores = score("lottery", dense, _lottery_ctx(mnist_small, theta0.state_dict(), recorder, Target(sparsity=0.2),
                                                 rewind_iteration=3, round_epochs=0))
    by_trained, _ = top_k_mask(unit_norms(dense), sparsity=0.2)
    by_theta0, _ = top_k_mask(unit_norms(theta0), sparsity=0.2)
    assert all(torch.equal(scores.mask[k], by_trained[k]) for k in by_trained)
    assert not all(torch.equal(by_theta0[k], by_trained[k]) for k in by_trained)


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_lottery_weight_ticket_is_the_mask_imp_trained(mnist_small, scope):
    """The returned weight mask is exactly the last round's trained mask, with no re-cut, and the scope holds."""
    config = TrainConfig.paper("fc3", "mnist", epochs=1)
    theta0 = fresh_model(config, mnist_small).state_dict()
    dense = fit(config, mnist_small).model
    recorder = Recorder(config, mnist_small)
    context = _lottery_ctx(mnist_small, theta0, recorder, Target(sparsity=0.5, scope=scope), round_epochs=1)
    context.granularity = "weight"
    result = prune("lottery", dense, context)
    last_mask = recorder.starts[-1][1]
    assert set(result.weight_mask) == set(last_mask)
    assert all(torch.equal(result.weight_mask[k], last_mask[k]) for k in last_mask)
    kept = {k: int(m.sum()) for k, m in result.mask.items()}
    sizes = {k: m.numel() for k, m in result.mask.items()}
    if scope == "layer":
        assert kept == {k: n - round(0.5 * n) for k, n in sizes.items()}
    else:
        assert sum(kept.values()) == sum(sizes.values()) - round(0.5 * sum(sizes.values()))
        assert kept != {k: n - round(0.5 * n) for k, n in sizes.items()}


def test_lottery_small_layers_prune_at_least_one_unit_per_round(mnist_small):
    """fc2 has 2 units and must end with 1: round(0.2 * 2) = 0 must not stall into max_rounds."""
    net = nn.Sequential(OrderedDict([("flatten", nn.Flatten()), ("fc1", nn.Linear(3 * 32 * 32, 4)),
                                     ("relu1", nn.ReLU()), ("fc2", nn.Linear(4, 2)), ("relu2", nn.ReLU()),
                                     ("out", nn.Linear(2, 10))]))
    calls = []

    def train(model, mask, epochs, max_steps=None):
        calls.append(mask)
        return model

    context = ScoringContext(batch=(None, None), init_state=net.state_dict(), train=train, train_epochs=1,
                             target=Target(counts={"fc1": 3, "fc2": 1}))
    result = prune("lottery", net, context)
    assert result.scores.stats["rounds"] == 1 and len(calls) == 1
    assert {k: int(m.sum()) for k, m in result.mask.items()} == {"fc1": 3, "fc2": 1}
    assert all(torch.equal(result.weight_mask[k], calls[-1][k]) for k in calls[-1])  # the final cut was trained
    with pytest.raises(ConfigError, match="max_rounds=1"):
        prune("lottery", net, ScoringContext(batch=(None, None), init_state=net.state_dict(), train=train,
                                             train_epochs=1, target=Target(counts={"fc1": 1, "fc2": 1}),
                                             options={"max_rounds": 1}))


def test_lottery_theta_k_beyond_one_epoch_and_the_budget(mnist_small):
    """theta_k is the dense run after k steps for any k within the budget; beyond it is a one-line error."""
    config = TrainConfig.paper("lenet5", "mnist", epochs=2)
    theta0 = fresh_model(config, mnist_small).state_dict()
    recorder = Recorder(config, mnist_small)
    context = _lottery_ctx(mnist_small, theta0, recorder, Target(sparsity=0.2), rewind_iteration=7, round_epochs=0)
    context.train_epochs = 2
    scores = score("lottery", fit(config, mnist_small).model, context)
    theta_7 = fit(config, mnist_small, start_state=theta0, epochs=2, max_steps=7).model.state_dict()
    theta_5 = fit(config, mnist_small, start_state=theta0, epochs=1, max_steps=7).model.state_dict()
    assert all(torch.equal(scores.rewind_state[k], theta_7[k]) for k in theta_7)
    assert not torch.equal(theta_7["fc1.weight"], theta_5["fc1.weight"])  # 7 steps need a second epoch
    context.train_epochs = 1
    with pytest.raises(ConfigError, match="rewind_iteration 7 is beyond the training budget of 5 steps"):
        score("lottery", fresh_model(config, mnist_small), context)


def test_lottery_rounds_default_to_the_full_training_budget(mnist_small):
    config = TrainConfig.paper("fc3", "mnist", epochs=1)
    epochs_seen = []

    def train(model, mask, epochs, max_steps=None):
        epochs_seen.append(epochs)
        return model

    net = fresh_model(config, mnist_small)
    context = ScoringContext(batch=(None, None), init_state=net.state_dict(), train=train, train_epochs=7,
                             target=Target(sparsity=0.36))
    score("lottery", net, context)
    assert epochs_seen == [7, 7]


def test_ticket_retrains_from_theta_k(mnist_small, monkeypatch):
    """evaluate_pruned retrains a late-rewound ticket from its theta_k, not from theta_0."""
    from types import SimpleNamespace

    from benchmark.pipeline import experiment

    config = TrainConfig.paper("fc3", "mnist", epochs=1)
    dense = fit(config, mnist_small)
    trained = SimpleNamespace(model=dense.model, init_state=dense.init_state, metrics={"test_accuracy": 0.9})
    exp = experiment.Experiment(config, mnist_small, trained, (None, None))
    starts = []
    monkeypatch.setattr(experiment, "fit", lambda cfg, splits, start_state, **kw: starts.append(start_state)
                        or SimpleNamespace(test_accuracy=0.5))
    result = prune("magnitude", dense.model, ctx(target=Target(sparsity=0.5)))
    theta_k = {"marker": torch.zeros(1)}
    result.scores.rewind_state = theta_k
    experiment.evaluate_pruned(exp, result, retrain_epochs=1)
    result.scores.rewind_state = None
    experiment.evaluate_pruned(exp, result, retrain_epochs=1)
    assert starts == [theta_k, dense.init_state]


# --- SNIP with BatchNorm ----------------------------------------------------------------------------------------
def test_snip_on_a_batchnorm_net_uses_batch_statistics_and_leaves_the_model_alone(mnist_small):
    """At theta_0 BatchNorm's running statistics are 0/1; SNIP normalises with the batch's, as a training step."""
    torch.manual_seed(0)
    net = nn.Sequential(OrderedDict([("conv", nn.Conv2d(3, 4, 3)), ("bn", nn.BatchNorm2d(4)), ("relu", nn.ReLU()),
                                     ("flatten", nn.Flatten()), ("out", nn.Linear(4 * 30 * 30, 10))]))
    with torch.no_grad():
        net.conv.bias.fill_(3.0)  # batch mean far from the running mean 0
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x, y = mnist_small.train.tensors(slice(0, 32))
    context = ScoringContext(batch=(x, y), granularity="weight", init_state=net.state_dict())
    scores = score("snip", net, context).values
    reference = copy.deepcopy(net).train()  # batch statistics: the definition of a SNIP step
    torch.nn.functional.cross_entropy(reference(x), y).backward()
    expected = (reference.conv.weight.grad * reference.conv.weight).abs()
    assert torch.allclose(scores["conv.weight"], expected, atol=1e-7)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    frozen = copy.deepcopy(net).eval()
    frozen.zero_grad()
    torch.nn.functional.cross_entropy(frozen(x), y).backward()
    assert not torch.allclose(scores["conv.weight"], (frozen.conv.weight.grad * frozen.conv.weight).abs(), atol=1e-5)
