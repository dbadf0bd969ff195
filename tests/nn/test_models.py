import pytest
import torch

from benchmark.core.errors import ConfigError
from benchmark.nn.models import build_model, count_parameters, prunable_layers


@pytest.mark.parametrize("name,params", [("fc3", 953_010), ("fc4", 645_810), ("lenet5", 62_006),
                                         ("vgg16", 14_982_474)])
def test_parameter_counts(name, params):
    assert count_parameters(build_model(name)) == params


def test_prunable_layers_exclude_the_output_layer():
    assert list(prunable_layers(build_model("lenet5"))) == ["conv1", "conv2", "fc1", "fc2"]
    assert list(prunable_layers(build_model("fc4"))) == ["fc1", "fc2", "fc3"]
    vgg = prunable_layers(build_model("vgg16"))
    assert len(vgg) == 14 and "out" not in vgg and list(vgg)[-1] == "fc1"


def test_models_accept_native_shapes_and_reduced_vgg():
    assert build_model("lenet5", (1, 28, 28))(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    small = build_model("vgg16", width_divisor=16).eval()
    assert small(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_seeded_init_is_reproducible_and_unknown_model_fails():
    a, b = build_model("fc3", seed=3), build_model("fc3", seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ConfigError, match="unknown model 'resnet'.*lenet5"):
        build_model("resnet")
