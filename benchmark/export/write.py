"""Write a compacted ticket: ``ticket.pt`` (state dict), ``architecture.json`` (layer types, constructor arguments
and the widths per prunable layer), ``ticket.pt2`` (the program, ``torch.export`` with a dynamic batch size:
``torch.export.load(path).module()``) and ``ticket_loader.py`` (a loader that needs torch alone)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from torch import nn

from benchmark.core.errors import ConfigError
from benchmark.export.ticket_loader import LAYER_TYPES
from benchmark.nn.compact import Compacted

ARGUMENTS = {
    nn.Linear: lambda m: {"in_features": m.in_features, "out_features": m.out_features, "bias": m.bias is not None},
    nn.Conv2d: lambda m: {"in_channels": m.in_channels, "out_channels": m.out_channels,
                          "kernel_size": list(m.kernel_size), "stride": list(m.stride),
                          "padding": m.padding if isinstance(m.padding, str) else list(m.padding),
                          "dilation": list(m.dilation), "groups": m.groups, "bias": m.bias is not None},
    nn.BatchNorm1d: lambda m: {"num_features": m.num_features, "eps": m.eps, "affine": m.affine},
    nn.BatchNorm2d: lambda m: {"num_features": m.num_features, "eps": m.eps, "affine": m.affine},
    nn.AvgPool2d: lambda m: {"kernel_size": m.kernel_size, "stride": m.stride, "padding": m.padding},
    nn.MaxPool2d: lambda m: {"kernel_size": m.kernel_size, "stride": m.stride, "padding": m.padding},
    nn.AdaptiveAvgPool2d: lambda m: {"output_size": m.output_size},
    nn.Flatten: lambda m: {"start_dim": m.start_dim, "end_dim": m.end_dim},
    nn.Dropout: lambda m: {"p": m.p},
}


def architecture(model: nn.Sequential, widths: dict[str, int], input_shape: tuple[int, ...]) -> dict:
    """The JSON description of ``model`` that :func:`benchmark.export.ticket_loader.build` turns back into it."""
    layers = []
    for name, module in model.named_children():
        if type(module).__name__ not in LAYER_TYPES:
            raise ConfigError(f"cannot export layer {name!r} of type {type(module).__name__}")
        arguments = ARGUMENTS.get(type(module), lambda m: {})(module)
        layers.append({"name": name, "type": type(module).__name__, "args": arguments})
    return {"input_shape": list(input_shape), "widths": widths, "layers": layers}


def write_ticket(compacted: Compacted, input_shape: tuple[int, ...], out: Path,
                 extra: dict | None = None) -> list[Path]:
    """Write the four files under ``out`` (created); ``extra`` (where the ticket came from) joins the
    architecture file. Returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = compacted.model.eval()
    description = {**architecture(model, compacted.widths, input_shape), **(extra or {})}
    paths = [out / "architecture.json", out / "ticket.pt", out / "ticket.pt2", out / "ticket_loader.py"]
    paths[0].write_text(json.dumps(description, indent=2) + "\n")
    torch.save(model.state_dict(), paths[1])
    example = torch.zeros((2,) + tuple(input_shape))
    program = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch", min=1)},))
    torch.export.save(program, paths[2])
    shutil.copyfile(Path(__file__).with_name("ticket_loader.py"), paths[3])
    return paths
