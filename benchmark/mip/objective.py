"""The OAMIP objective: ``lam * mean_n loss(z_n, y_n) + sparsity term``.

Losses: ``ce`` is the exact cross-entropy ``log sum_k exp(z_k) - z_y`` (epigraph ``t >= log sum_k exp(z_k)``,
a convex exponential-cone constraint: :class:`~benchmark.mip.instance.LogSumExp`); ``margin`` is the linear
multiclass hinge ``max(0, m + max_{k != y} z_k - z_y)``. The sparsity term is ``sum_l (1/n_l) sum_i (s_i - 2)``
or, as in the reference code, the sum of the S-1 largest layer terms.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from torch import nn

from benchmark.mip.affine import Builder, csr
from benchmark.mip.config import MIPConfig
from benchmark.mip.encode import EncodedNetwork
from benchmark.mip.instance import LogSumExp, Rows


def add_logit_variables(encoded: EncodedNetwork) -> np.ndarray:
    """One free variable per (sample, class) equal to that sample's logit expression; returns (N, K) ids."""
    builder = encoded.builder
    ids = []
    for logits in encoded.logits:
        const, coef = logits.rows()
        z = builder.add_vars(len(const), -np.inf, np.inf, prefix="z", start=logits.value(builder.start).numpy())
        equality = csr(sparse.hstack([coef, -sparse.identity(len(z))]))  # never implied: added as they are
        builder.record_rows(equality, np.concatenate([logits.basis, z]), -const, -const)
        ids.append(z)
    return np.stack(ids)


def _rows(cols: list[list[int]], vals: list[float], lo: float) -> Rows:
    """Rows ``sum_i vals[i] * x[cols[r][i]] >= lo``, all with the same coefficients."""
    cols = np.array(cols, dtype=np.int64).reshape(len(cols), len(vals))
    indptr = np.arange(len(cols) + 1) * len(vals)
    return Rows(indptr, cols.ravel(), np.tile(np.asarray(vals, dtype=float), len(cols)), np.full(len(cols), lo),
                np.full(len(cols), np.inf))


def add_loss(builder: Builder, z: np.ndarray, labels: list[int], config: MIPConfig) -> None:
    """Add ``lam`` times the mean loss over the samples to the objective (with its epigraph variables and
    constraints): ``ce``'s ``t_n - z_{n,y}`` with ``t_n >= log sum_k exp(z_{n,k})``, or ``margin``'s hinge
    ``xi_n >= m + z_{n,k} - z_{n,y}`` for every k != y."""
    ids, coefs = [], []
    for n, y in enumerate(labels):
        z_start = builder.start[z[n]]
        if config.loss == "ce":
            lse = float(np.logaddexp.reduce(z_start)) + 1e-9
            t = int(builder.add_vars(1, -np.inf, np.inf, prefix="lse", start=lse)[0])
            builder.instance.constraints.append(LogSumExp(t, z[n].copy()))
            ids += [t, z[n][y]]
            coefs += [1.0, -1.0]
        else:
            violation = config.margin + np.delete(z_start, y).max() - z_start[y]
            xi = int(builder.add_vars(1, 0.0, np.inf, prefix="hinge", start=max(0.0, violation))[0])
            others = [int(zk) for k, zk in enumerate(z[n]) if k != y]
            builder.instance.constraints.append(_rows([[xi, zk, z[n][y]] for zk in others], [1.0, -1.0, 1.0],
                                                      config.margin))
            ids.append(xi)
            coefs.append(1.0)
    builder.instance.add_objective(np.array(ids), np.array(coefs) * (1.0 / len(labels)) * config.lam)


def layer_normaliser(layer: nn.Module, config: MIPConfig) -> int:
    """n_l: units of the layer, times the kernel area for conv layers under ``filters_k2``."""
    units = layer.weight.shape[0]
    if isinstance(layer, nn.Conv2d) and config.conv_normaliser == "filters_k2":
        return units * layer.kernel_size[0] * layer.kernel_size[1]
    return units


def add_sparsity(encoded: EncodedNetwork, config: MIPConfig) -> None:
    """Add ``sum_l (1/n_l) sum_i (s_i - 2)`` to the objective, or its sum of the S-1 largest layer terms (through
    ``(S-1) r + sum_l u_l`` with ``u_l >= term_l - r``, ``u_l >= 0``)."""
    builder, instance = encoded.builder, encoded.builder.instance
    norms = {name: layer_normaliser(encoded.units[name], config) for name in encoded.scores}
    constants = [-(2.0 * len(ids) / norms[name]) for name, ids in encoded.scores.items()]
    if config.aggregation == "sum" or len(norms) == 1:
        for (name, ids), constant in zip(encoded.scores.items(), constants):
            instance.add_objective(ids, np.full(len(ids), 1.0 / norms[name]), constant)
        return
    term_start = np.array([(builder.start[ids] - 2.0).sum() / norms[name] for name, ids in encoded.scores.items()])
    r_start = term_start.min()
    r = int(builder.add_vars(1, -np.inf, np.inf, prefix="r", start=r_start)[0])
    u = builder.add_vars(len(norms), 0.0, np.inf, prefix="u", start=term_start - r_start)
    for u_l, (name, ids), constant in zip(u.tolist(), encoded.scores.items(), constants):
        cols = np.concatenate([[u_l], ids, [r]])
        vals = np.concatenate([[1.0], np.full(len(ids), -(1.0 / norms[name])), [1.0]])
        instance.constraints.append(Rows(np.array([0, len(cols)]), cols, vals, np.array([constant]),
                                         np.array([np.inf])))
    instance.add_objective(np.concatenate([[r], u]), np.concatenate([[float(len(norms) - 1)], np.ones(len(u))]))
