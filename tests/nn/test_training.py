import pytest
import torch

from benchmark.core.config import TrainConfig
from benchmark.nn.masks import full_neuron_mask, neuron_sparsity, neuron_to_weight_mask, parameter_sparsity
from benchmark.nn.training import evaluate, fit, fresh_model

ON_CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                           reason="no CUDA GPU")])
DEVICES = ["cpu", ON_CUDA]


def _params_equal(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_same_config_and_seed_give_bit_identical_weights(mnist_small):
    config = TrainConfig.paper("lenet5", "mnist", epochs=1)
    assert _params_equal(fit(config, mnist_small).model, fit(config, mnist_small).model)
    other = fit(TrainConfig.paper("lenet5", "mnist", epochs=1, seed=1), mnist_small)
    assert not _params_equal(fit(config, mnist_small).model, other.model)


def test_training_learns_and_keeps_theta0(trained_lenet, mnist_small):
    config, result = trained_lenet
    assert result.test_accuracy > 0.8
    init = fresh_model(config, mnist_small)
    assert all(torch.equal(init.state_dict()[k], v) for k, v in result.init_state.items())
    assert len(result.history) == 10


def _half_mask(model):
    mask = full_neuron_mask(model)
    for keep in mask.values():
        keep[::2] = False
    return mask


def _random_weight_mask(model):
    generator = torch.Generator().manual_seed(0)
    return {name: torch.rand(p.shape, generator=generator) < 0.5 for name, p in model.named_parameters()}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("granularity", ["neuron", "weight"])
@pytest.mark.parametrize("optimizer", ["rmsprop", "adam", "sgd"])
def test_masked_training_never_regrows_pruned_weights(mnist_small, optimizer, granularity, device):
    config = TrainConfig.paper("lenet5", "mnist", epochs=2, optimizer=optimizer, momentum=0.9, weight_decay=1e-4)
    model = fresh_model(config, mnist_small)
    if granularity == "neuron":
        weight_mask = neuron_to_weight_mask(model, _half_mask(model))
    else:
        weight_mask = _random_weight_mask(model)
    result = fit(config, mnist_small, mask=weight_mask, device=device)
    params = dict(result.model.named_parameters())
    assert all(p.device.type == "cpu" for p in params.values())  # handed back on the CPU
    for name, keep in weight_mask.items():
        assert torch.all(params[name][~keep] == 0), name
        assert torch.any(params[name][keep] != 0), name


@pytest.mark.parametrize("device", DEVICES)
def test_without_enforcement_adam_would_regrow(mnist_small, device):
    """Guards the test above: zeroing weights once is not enough with Adam."""
    config = TrainConfig.paper("lenet5", "mnist", epochs=1, optimizer="adam")
    model = fresh_model(config, mnist_small)
    weight_mask = _random_weight_mask(model)
    start = {k: v * weight_mask[k] for k, v in model.state_dict().items()}
    result = fit(config, mnist_small, start_state=start, device=device)
    assert torch.any(result.model.fc1.weight[~weight_mask["fc1.weight"]] != 0)


def test_fine_tune_and_retrain_from_theta0(trained_lenet, mnist_small):
    config, dense = trained_lenet
    mask = _half_mask(dense.model)
    weight_mask = neuron_to_weight_mask(dense.model, mask)
    tuned = fit(config, mnist_small, start_state=dense.model.state_dict(), mask=weight_mask, epochs=1)
    rewound = fit(config, mnist_small, start_state=dense.init_state, mask=weight_mask, epochs=3)
    assert all(torch.equal(rewound.init_state[k], v) for k, v in dense.init_state.items())
    assert tuned.test_accuracy > 0.5 and rewound.test_accuracy > 0.3  # chance is 0.1
    assert neuron_sparsity(mask) == pytest.approx(0.5, abs=0.02)
    assert 0.5 < parameter_sparsity(dense.model, weight_mask) < 0.8  # half the rows and half the columns die
    loss, acc = evaluate(tuned.model, mnist_small.test)
    assert acc == pytest.approx(tuned.test_accuracy)
