"""Export a compacted ticket as files that plain torch loads: a state dict, its architecture, and TorchScript."""
