"""Load a ticket exported by ``ticketbench export``, with torch alone (this file is copied beside the export).

    from ticket_loader import load_ticket
    model = load_ticket("path/to/export")          # an nn.Sequential in eval mode
    program = torch.export.load("path/to/export/ticket.pt2").module()   # the same, as an exported program

``architecture.json`` lists the layers in order, each with its type and constructor arguments; ``ticket.pt`` is
the state dict of the ``nn.Sequential`` they make.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

LAYER_TYPES = {cls.__name__: cls for cls in (nn.Linear, nn.Conv2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU,
                                             nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Flatten,
                                             nn.Dropout, nn.Identity)}


def build(architecture: dict) -> nn.Sequential:
    """The untrained ``nn.Sequential`` that ``architecture`` (the parsed ``architecture.json``) describes."""
    layers = OrderedDict((layer["name"], LAYER_TYPES[layer["type"]](**layer["args"]))
                         for layer in architecture["layers"])
    return nn.Sequential(layers)


def load_ticket(directory: str | Path) -> nn.Sequential:
    """The exported ticket in ``directory``, weights loaded, in eval mode."""
    directory = Path(directory)
    model = build(json.loads((directory / "architecture.json").read_text()))
    model.load_state_dict(torch.load(directory / "ticket.pt", weights_only=True))
    return model.eval()
