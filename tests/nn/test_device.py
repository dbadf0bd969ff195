"""Devices: auto/cpu/cuda resolution, the deterministic CUDA settings, and (marked cuda, skipped without a GPU)
training, evaluation, caching and scoring on a GPU with everything handed back on the CPU."""

import copy
import os

import pytest
import torch

from benchmark.core.config import TrainConfig
from benchmark.core.errors import ConfigError
from benchmark.nn.device import CUBLAS_WORKSPACE, configure_device, resolve_device
from benchmark.nn.masks import full_neuron_mask, neuron_to_weight_mask
from benchmark.nn.training import evaluate, fit, fresh_model, trained_on
from benchmark.pipeline.model_cache import get_trained

# cuBLAS reads its workspace setting when CUDA first starts in this process: before any test can start it
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)

no_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


@pytest.fixture
def deterministic():
    """configure_device's process-wide switches, restored after the test."""
    before = (torch.are_deterministic_algorithms_enabled(), torch.utils.deterministic.fill_uninitialized_memory,
              torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    yield
    torch.use_deterministic_algorithms(before[0])
    torch.utils.deterministic.fill_uninitialized_memory = before[1]
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = before[2:]


@pytest.mark.parametrize("available, expected", [(False, "cpu"), (True, "cuda")])
def test_auto_picks_cuda_only_when_torch_sees_a_gpu(monkeypatch, available, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
    assert resolve_device("auto") == expected
    assert resolve_device("cpu") == "cpu"


def test_cuda_without_a_gpu_and_unknown_devices_are_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"^device 'cuda' asked for, but torch sees no CUDA GPU.*--device cpu"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="unknown device 'gpu'; choose one of: auto, cpu, cuda"):
        resolve_device("gpu")


def test_configure_device_switches_determinism_on_for_cuda_only(monkeypatch, deterministic):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    torch.use_deterministic_algorithms(False)
    configure_device("cpu")
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ and not torch.are_deterministic_algorithms_enabled()
    configure_device("cuda")  # needs no GPU: it only sets switches
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8" and torch.are_deterministic_algorithms_enabled()
    assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic
    assert not torch.utils.deterministic.fill_uninitialized_memory  # a debugging aid that doubles small steps
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")  # the other deterministic setting is kept
    configure_device("cuda")
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_history_records_the_training_device(mnist_small):
    result = fit(TrainConfig.paper("fc3", "mnist", epochs=2), mnist_small)
    assert [epoch["device"] for epoch in result.history] == ["cpu", "cpu"]
    assert trained_on({"history": result.history}) == "cpu"
    assert trained_on({"history": []}) is None and trained_on({}) is None


def test_the_device_is_not_part_of_the_cache_key(mnist_small):
    """A model stored by one device is found by a request for another (a CPU run finds a GPU-trained model)."""
    config = TrainConfig.paper("fc3", "mnist", epochs=1)
    first = get_trained(config, mnist_small, device="cpu")
    again = get_trained(config, mnist_small, device="cuda")  # loads: nothing runs on the GPU
    assert not first.from_cache and again.from_cache and again.path == first.path


# ---- on a GPU: marked cuda, skipped without one ---------------------------------------------------------------


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.cuda
@no_gpu
@pytest.mark.parametrize("augment", ["none", "crop-flip"])
@pytest.mark.parametrize("model", ["lenet5", "vgg16"])
def test_cuda_training_is_repeatable_and_handed_back_on_the_cpu(mnist_small, deterministic, augment, model):
    configure_device("cuda")
    config = TrainConfig.paper(model, "mnist", epochs=2, augment=augment, width_divisor=16 if model == "vgg16" else 1,
                               optimizer="sgd", lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    first, again = fit(config, mnist_small, device="cuda"), fit(config, mnist_small, device="cuda")
    a, b = _state(first.model), _state(again.model)
    assert all(v.device.type == "cpu" for v in a.values())
    assert all(torch.equal(a[k], b[k]) for k in a), "two CUDA runs differ"
    assert (first.test_loss, first.history) == (again.test_loss, again.history)
    init = fresh_model(config, mnist_small).state_dict()  # theta_0 is drawn on the CPU: the same on every device
    assert all(torch.equal(first.init_state[k], init[k]) and first.init_state[k].device.type == "cpu" for k in init)
    assert first.history[-1]["device"] == "cuda"


@pytest.mark.cuda
@no_gpu
def test_cuda_evaluation_agrees_with_the_cpu(trained_lenet, mnist_small):
    _, result = trained_lenet
    cpu_loss, cpu_accuracy = evaluate(result.model, mnist_small.test)
    on_gpu = copy.deepcopy(result.model).to("cuda")
    cuda_loss, cuda_accuracy = evaluate(on_gpu, mnist_small.test)  # the CPU set moves to the model's device
    assert cuda_loss == pytest.approx(cpu_loss, rel=1e-4) and cuda_accuracy == cpu_accuracy


def _host_to_device_copies(run) -> int:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        run()
        torch.cuda.synchronize()
    return sum("HtoD" in event.name for event in prof.events())


@pytest.mark.cuda
@no_gpu
def test_no_host_to_device_copy_per_training_step(mnist_small, deterministic):
    """One epoch in 40 steps copies from the host exactly as often as one in 4: data, mask, model, the epoch's
    permutation and draws move once, never per step."""
    configure_device("cuda")
    model = fresh_model(TrainConfig.paper("lenet5", "mnist"), mnist_small)
    mask = full_neuron_mask(model)
    mask["conv1"][::2] = False
    weight_mask = neuron_to_weight_mask(model, mask)
    counts = {}
    for batch in (16, 160):
        config = TrainConfig.paper("lenet5", "mnist", epochs=1, batch_size=batch, augment="crop-flip")
        counts[batch] = _host_to_device_copies(lambda c=config: fit(c, mnist_small, mask=weight_mask, device="cuda"))
    assert counts[16] == counts[160] > 0, counts


@pytest.mark.cuda
@no_gpu
def test_a_gpu_trained_model_is_stored_on_the_cpu_and_found_by_a_cpu_run(mnist_small, deterministic):
    configure_device("cuda")
    config = TrainConfig.paper("lenet5", "mnist", epochs=1)
    trained = get_trained(config, mnist_small, device="cuda")
    for name in ("trained.pt", "init.pt"):
        assert all(v.device.type == "cpu" for v in torch.load(trained.path / name, weights_only=True).values())
    loaded = get_trained(config, mnist_small, device="cpu")
    assert loaded.from_cache and trained_on(loaded.metrics) == "cuda"
    assert all(p.device.type == "cpu" for p in loaded.model.parameters())
    assert evaluate(loaded.model, mnist_small.test)[1] == pytest.approx(trained.metrics["test_accuracy"], abs=0.01)


@pytest.mark.cuda
@no_gpu
def test_snip_takes_its_gradients_on_the_device_and_returns_cpu_scores(trained_lenet, mnist_small):
    from baselines.snip import Snip, SnipOptions
    from benchmark.methods import ScoringContext

    _, dense = trained_lenet
    scores = {}
    for device in ("cpu", "cuda"):
        ctx = ScoringContext(batch=(None, None), splits=mnist_small, init_state=dense.init_state,
                             options=SnipOptions(), device=device)
        scores[device] = Snip().score(dense.model, ctx).values
    for name, values in scores["cuda"].items():
        assert values.device.type == "cpu"
        assert torch.allclose(values, scores["cpu"][name], rtol=1e-3, atol=1e-6), name
