"""The OAMIP objective: ``lam * mean_n loss(z_n, y_n) + sparsity term``.

Losses: ``ce`` is the exact cross-entropy ``log sum_k exp(z_k) - z_y`` (epigraph ``sum_k exp(z_k - t) <= 1``,
a convex nonlinear constraint SCIP handles natively); ``margin`` is the linear multiclass hinge
``max(0, m + max_{k != y} z_k - z_y)``. The sparsity term is ``sum_l (1/n_l) sum_i (s_i - 2)`` or, as in the
reference code, the sum of the S-1 largest layer terms.
"""

from __future__ import annotations

import numpy as np
import pyscipopt as scip
from scipy import sparse
from torch import nn

from benchmark.mip.affine import Builder, csr
from benchmark.mip.config import MIPConfig
from benchmark.mip.encode import EncodedNetwork


def add_logit_variables(encoded: EncodedNetwork) -> np.ndarray:
    """One free variable per (sample, class) equal to that sample's logit expression; returns (N, K) ids."""
    builder = encoded.builder
    ids = []
    for logits in encoded.logits:
        const, coef = logits.rows()
        z = builder.add_vars(len(const), -np.inf, np.inf, prefix="z", start=logits.value(builder.start).numpy())
        equality = csr(sparse.hstack([coef, -sparse.identity(len(z))]))  # never implied: added as they are
        builder.emit_rows(equality, np.concatenate([logits.basis, z]), -const, -const)
        ids.append(z)
    return np.stack(ids)


def loss_expression(builder: Builder, z: np.ndarray, labels: list[int], config: MIPConfig):
    """Mean loss over the samples as a linear expression (adding epigraph variables and constraints)."""
    terms = []
    for n, y in enumerate(labels):
        zs = [builder.vars[j] for j in z[n]]
        z_start = builder.start[z[n]]
        if config.loss == "ce":
            lse = float(np.logaddexp.reduce(z_start)) + 1e-9
            t = builder.vars[builder.add_vars(1, -np.inf, np.inf, prefix="lse", start=lse)[0]]
            builder.model.addCons(scip.quicksum(scip.exp(zk - t) for zk in zs) <= 1.0)
            terms.append(t - zs[y])
        else:
            violation = config.margin + np.delete(z_start, y).max() - z_start[y]
            xi = builder.vars[builder.add_vars(1, 0.0, np.inf, prefix="hinge", start=max(0.0, violation))[0]]
            for k, zk in enumerate(zs):
                if k != y:
                    builder.model.addCons(xi - zk + zs[y] >= config.margin)
            terms.append(xi)
    return scip.quicksum(terms) / len(labels)


def layer_normaliser(layer: nn.Module, config: MIPConfig) -> int:
    """n_l: units of the layer, times the kernel area for conv layers under ``filters_k2``."""
    units = layer.weight.shape[0]
    if isinstance(layer, nn.Conv2d) and config.conv_normaliser == "filters_k2":
        return units * layer.kernel_size[0] * layer.kernel_size[1]
    return units


def sparsity_expression(encoded: EncodedNetwork, config: MIPConfig):
    """``sum_l (1/n_l) sum_i (s_i - 2)``, or its sum of the S-1 largest layer terms."""
    builder = encoded.builder
    norms = {name: layer_normaliser(encoded.units[name], config) for name in encoded.scores}
    terms = [scip.quicksum(builder.vars[j] for j in ids.tolist()) / norms[name] - 2.0 * len(ids) / norms[name]
             for name, ids in encoded.scores.items()]
    if config.aggregation == "sum" or len(terms) == 1:
        return scip.quicksum(terms)
    term_start = np.array([(builder.start[ids] - 2.0).sum() / norms[name] for name, ids in encoded.scores.items()])
    r_start = term_start.min()
    r = builder.vars[builder.add_vars(1, -np.inf, np.inf, prefix="r", start=r_start)[0]]
    u = [builder.vars[j] for j in builder.add_vars(len(terms), 0.0, np.inf, prefix="u", start=term_start - r_start)]
    for u_l, term in zip(u, terms):
        builder.model.addCons(u_l - term + r >= 0)
    return (len(terms) - 1) * r + scip.quicksum(u)
