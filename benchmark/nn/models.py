"""The paper's architectures (FC-3, FC-4, LeNet-5, VGG-16) as flat, named ``nn.Sequential`` models.

Flat sequentials let the MIP encoder walk layers in order. Every Linear and Conv2d except the output
layer is prunable: its units are Linear neurons or Conv2d filters.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from benchmark.core.errors import ConfigError

Shape = tuple[int, int, int]


def _fc(in_shape: Shape, hidden: list[int], num_classes: int) -> nn.Sequential:
    layers: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    width = in_shape[0] * in_shape[1] * in_shape[2]
    for i, units in enumerate(hidden, start=1):
        layers += [(f"fc{i}", nn.Linear(width, units)), (f"relu{i}", nn.ReLU())]
        width = units
    layers.append(("out", nn.Linear(width, num_classes)))
    return nn.Sequential(OrderedDict(layers))


def fc3(in_shape: Shape = (3, 32, 32), num_classes: int = 10) -> nn.Sequential:
    """FC-3: input-300-100-classes with ReLUs (953,010 parameters at 3x32x32)."""
    return _fc(in_shape, [300, 100], num_classes)


def fc4(in_shape: Shape = (3, 32, 32), num_classes: int = 10) -> nn.Sequential:
    """FC-4: input-200-100-100-classes with ReLUs (645,810 parameters at 3x32x32)."""
    return _fc(in_shape, [200, 100, 100], num_classes)


def lenet5(in_shape: Shape = (3, 32, 32), num_classes: int = 10) -> nn.Sequential:
    """LeNet-5 as in the official code: average pooling instead of max pooling (62,006 parameters)."""
    c, h, w = in_shape
    flat = 16 * (((h - 4) // 2 - 4) // 2) * (((w - 4) // 2 - 4) // 2)
    return nn.Sequential(
        OrderedDict(
            [
                ("conv1", nn.Conv2d(c, 6, 5)),
                ("relu1", nn.ReLU()),
                ("pool1", nn.AvgPool2d(2)),
                ("conv2", nn.Conv2d(6, 16, 5)),
                ("relu2", nn.ReLU()),
                ("pool2", nn.AvgPool2d(2)),
                ("flatten", nn.Flatten()),
                ("fc1", nn.Linear(flat, 120)),
                ("relu3", nn.ReLU()),
                ("fc2", nn.Linear(120, 84)),
                ("relu4", nn.ReLU()),
                ("out", nn.Linear(84, num_classes)),
            ]
        )
    )


VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def vgg16(in_shape: Shape = (3, 32, 32), num_classes: int = 10, width_divisor: int = 1) -> nn.Sequential:
    """VGG-16 of the paper: 13 conv3x3 + BatchNorm2d(affine=False) + ReLU, avg-pool per block, FC 512.

    ``width_divisor`` shrinks every channel count (a reduced VGG for tests); 1 is the paper's model.
    """
    layers: list[tuple[str, nn.Module]] = []
    channels, spatial = in_shape[0], in_shape[1]
    for b, block in enumerate(VGG16_BLOCKS, start=1):
        for i, width in enumerate(block, start=1):
            width = max(1, width // width_divisor)
            layers += [
                (f"conv{b}_{i}", nn.Conv2d(channels, width, 3, padding=1)),
                (f"bn{b}_{i}", nn.BatchNorm2d(width, affine=False)),
                (f"relu{b}_{i}", nn.ReLU()),
            ]
            channels = width
        layers.append((f"pool{b}", nn.AvgPool2d(2)))
        spatial //= 2
    hidden = max(1, 512 // width_divisor)
    layers += [
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(channels * spatial * spatial, hidden)),
        ("bn_fc1", nn.BatchNorm1d(hidden, affine=False)),
        ("relu_fc1", nn.ReLU()),
        ("out", nn.Linear(hidden, num_classes)),
    ]
    return nn.Sequential(OrderedDict(layers))


MODELS: dict[str, Callable[..., nn.Sequential]] = {"fc3": fc3, "fc4": fc4, "lenet5": lenet5, "vgg16": vgg16}


def init_weights(model: nn.Module) -> None:
    """The official initialisation: conv ~ N(0, 0.02); Linear Kaiming-normal with zero bias."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight)
            nn.init.zeros_(module.bias)


def build_model(name: str, in_shape: Shape = (3, 32, 32), num_classes: int = 10, seed: int | None = None,
                **kwargs) -> nn.Sequential:
    """Build (and, with ``seed``, deterministically initialise) a registered model."""
    try:
        builder = MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}") from None
    if seed is not None:
        torch.manual_seed(seed)
    model = builder(in_shape, num_classes, **kwargs)
    init_weights(model)
    return model


def prunable_layers(model: nn.Module) -> OrderedDict[str, nn.Module]:
    """Linear and Conv2d layers in order, without the output layer (the last Linear)."""
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    return OrderedDict(layers[:-1])


def count_parameters(model: nn.Module) -> int:
    """Total number of trainable parameters."""
    return sum(p.numel() for p in model.parameters())
