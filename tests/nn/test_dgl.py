"""Decoupled greedy learning (the paper's VGG-16 training) on a reduced VGG-16 and the MNIST fixture."""

import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F

from benchmark.core.config import TrainConfig
from benchmark.core.errors import ConfigError
from benchmark.core.records import SolverStats
from benchmark.mip import decoupled, method
from benchmark.mip.config import MIPConfig
from benchmark.mip.scorer import MIPResult
from benchmark.nn.device import configure_device
from benchmark.nn.dgl import dgl_heads, dgl_step, fit_dgl, stages
from benchmark.nn.training import fit, fresh_model, make_optimizer
from benchmark.pipeline.experiment import context, with_batch
from benchmark.pipeline.model_cache import HEADS_FILE, get_trained, model_dir

# the paper's VGG-16 optimiser (SGD, Nesterov, weight decay), at a learning rate a 640-image slice can take
CONFIG = dataclasses.replace(TrainConfig.paper("vgg16", "cifar10"), dataset="mnist", augment="none", width_divisor=8,
                             batch_size=32, lr=0.01, epochs=1)


def untrained(splits, config=CONFIG):
    model = fresh_model(config, splits)
    heads = dgl_heads(config, model, splits.train.input_shape, splits.train.num_classes)
    return model.train(), heads.train()


def states(*modules):
    return [value for module in modules for value in module.state_dict().values()]


@pytest.fixture(scope="module")
def dgl_trained(mnist_small):
    return fit_dgl(CONFIG, mnist_small, epochs=4)


def test_no_gradient_crosses_blocks(mnist_small):
    """Blocks 0 and 1 step exactly as each would alone with its head on its detached input."""
    model, heads = untrained(mnist_small)
    cut = stages(CONFIG, model, heads)
    alone = [copy.deepcopy((cut[k].lead, cut[k].block, cut[k].head)) for k in (0, 1)]
    optimisers = [make_optimizer(CONFIG, [*block.parameters(), *head.parameters()]) for _, block, head in alone]
    for step in range(2):
        x, y = mnist_small.train.tensors(slice(32 * step, 32 * step + 32))
        dgl_step(cut, x, y)
        for (lead, block, head), optimiser in zip(alone, optimisers):
            out = block(lead(x))
            optimiser.zero_grad(set_to_none=True)
            F.cross_entropy(head(out), y).backward()
            optimiser.step()
            x = out.detach()
    for k, (_, block, head) in enumerate(alone):
        for p, q in zip([*cut[k].block.parameters(), *cut[k].head.parameters()], [*block.parameters(),
                                                                                  *head.parameters()]):
            assert torch.equal(p, q) and torch.equal(p.grad, q.grad)


def test_each_optimiser_steps_only_its_block_and_head(mnist_small):
    model, heads = untrained(mnist_small)
    cut = stages(CONFIG, model, heads)
    owned = [{id(p) for p in [*s.block.parameters(), *s.head.parameters()]} for s in cut]
    held = [{id(p) for group in s.optimizer.param_groups for p in group["params"]} for s in cut]
    assert held == owned and len(cut) == 13 and len(heads) == 12
    assert set().union(*held) == {id(p) for p in [*model.parameters(), *heads.parameters()]}
    frozen = cut[3]
    frozen.optimizer.param_groups[0]["lr"] = 0.0
    before = [p.clone() for s in cut for p in [*s.block.parameters(), *s.head.parameters()]]
    dgl_step(cut, *mnist_small.train.tensors(slice(0, 32)))
    after = [p for s in cut for p in [*s.block.parameters(), *s.head.parameters()]]
    frozen_ids = owned[3]
    for old, new in zip(before, after):
        assert torch.equal(old, new) == (id(new) in frozen_ids)


def test_training_heads_compute_the_stored_heads_without_adaptive_pooling(mnist_small):
    """CUDA's adaptive_avg_pool2d backward is non-deterministic (it raises under a CUDA run's settings)."""
    model, heads = untrained(mnist_small)
    cut = stages(CONFIG, model, heads.eval())
    x = mnist_small.train.tensors(slice(0, 16))[0]
    with torch.no_grad():
        for stage, head, features in zip(cut, heads, decoupled.block_features(model.eval(), x)):
            assert not any(isinstance(m, torch.nn.AdaptiveAvgPool2d) for m in stage.head.modules())
            assert torch.allclose(stage.head(features), head(features), atol=1e-5)


def test_dgl_differs_from_end_to_end_and_its_heads_learn(dgl_trained, mnist_small):
    end_to_end = fit(dataclasses.replace(CONFIG, training="end-to-end"), mnist_small, epochs=4)
    assert all(torch.equal(a, b) for a, b in zip(end_to_end.init_state.values(), dgl_trained.init_state.values()))
    assert not all(torch.equal(a, b) for a, b in zip(states(end_to_end.model), states(dgl_trained.model)))
    x, y = mnist_small.train.tensors()
    with torch.no_grad():
        features = decoupled.block_features(dgl_trained.model.eval(), x)
        accuracies = [float((head(f).argmax(1) == y).float().mean()) for head, f in zip(dgl_trained.heads, features)]
    assert len(accuracies) == 12 and min(accuracies) > 0.25  # chance is 0.1
    assert dgl_trained.test_accuracy > 0.25


def test_seeded_runs_are_bit_identical(mnist_small):
    config = dataclasses.replace(CONFIG, augment="crop-flip")
    first, second = fit_dgl(config, mnist_small), fit_dgl(config, mnist_small)
    assert first.history == second.history
    assert all(torch.equal(a, b) for a, b in zip(states(first.model, first.heads), states(second.model, second.heads)))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_dgl_trains_on_cuda_repeatably_and_hands_back_cpu_tensors(mnist_small):
    switches = (torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory,
                torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    configure_device("cuda")  # as every CUDA run does: a non-deterministic kernel raises
    try:
        config = dataclasses.replace(CONFIG, augment="crop-flip")
        result, again = (fit_dgl(config, mnist_small, epochs=4, device="cuda") for _ in range(2))
    finally:
        torch.use_deterministic_algorithms(switches[0])
        torch.utils.deterministic.fill_uninitialized_memory = switches[1]
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = switches[2:]
    assert all(t.device.type == "cpu" for t in [*states(result.model, result.heads), *result.init_state.values()])
    assert result.history[-1]["device"] == "cuda" and result.test_accuracy > 0.25
    assert all(torch.equal(a, b) for a, b in zip(states(result.model, result.heads), states(again.model, again.heads)))


def test_cache_stores_and_loads_the_heads(mnist_small):
    trained = get_trained(CONFIG, mnist_small)
    path = model_dir(CONFIG)
    assert not trained.from_cache and (path / HEADS_FILE).is_file()
    stored = torch.load(path / HEADS_FILE, weights_only=True)
    assert all(t.device.type == "cpu" for t in stored.values())
    loaded = get_trained(CONFIG, mnist_small)
    assert loaded.from_cache and not loaded.heads.training
    assert all(torch.equal(a, b) for a, b in zip(states(trained.heads), states(loaded.heads)))
    (path / HEADS_FILE).unlink()  # a DGL entry without its heads is incomplete: trained again
    assert not get_trained(CONFIG, mnist_small).from_cache and (path / HEADS_FILE).is_file()
    assert get_trained(TrainConfig.paper("fc3", "mnist", epochs=1), mnist_small).heads is None


def _skipped(problem, config):
    stats = SolverStats(status="skipped", primal_bound=0.0, dual_bound=0.0, gap=0.0, nodes=0, lp_iterations=0,
                        solve_seconds=0.0, build_seconds=0.0, variables=0, binaries=0, constraints=0,
                        binaries_before_stable_removal=0, binaries_after_stable_removal=0, stable_inactive=0,
                        stable_active=0, rows_emitted=0, scip_version="", pyscipopt_version="",
                        dense_start_accepted=True, threshold=0.0)
    return MIPResult({k: torch.ones(problem.layers.get_submodule(k).weight.shape[0]) for k in problem.keep}, {},
                     stats)


def test_the_decoupled_mip_uses_a_cached_dgl_models_heads(mnist_small, monkeypatch):
    """Through the experiment's scoring context: a cached DGL model's heads are used as trained; without heads
    (as an end-to-end model comes) heads are fitted to the frozen network."""
    config = dataclasses.replace(CONFIG, epochs=4)
    get_trained(config, mnist_small)
    cached = get_trained(config, mnist_small)
    solved = []
    monkeypatch.setattr(decoupled, "solve_block", lambda problem, cfg: solved.append(problem) or _skipped(problem, cfg))
    monkeypatch.setattr(method, "score_decoupled", lambda *args: decoupled.score_decoupled(*args, workers=0))
    options = MIPConfig(decoupled=True, head_epochs=10, n_samples=2)
    for trained, source in ((cached, "dgl"), (dataclasses.replace(cached, heads=None), "fitted")):
        solved.clear()
        exp = with_batch(config, mnist_small, trained, batch_size=2)
        scores = method.MIPMethod().score(trained.model, context(exp, options=options))
        assert scores.stats["heads"] == source and len(solved) == 13 and len(scores.stats["blocks"]) == 13
        own = [problem.layers.aux_out is head.aux_out for problem, head in zip(solved, cached.heads)]
        assert own == [source == "dgl"] * 12


@pytest.mark.parametrize("model", ["fc3", "fc4"])
def test_dgl_without_conv_layers_is_one_line_before_training(model, mnist_small):
    config = TrainConfig.paper(model, "mnist", training="dgl")
    with pytest.raises(ConfigError, match=f"{model} has none") as error:
        get_trained(config, mnist_small)
    assert "\n" not in str(error.value) and not model_dir(config).exists()
