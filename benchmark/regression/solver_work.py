"""The solver-work regression: the MIP of each committed fixture network (:mod:`.fixtures`), built and solved now.

A solver record holds the case's name, its fixture file's sha256, the MIP options and threshold, the solver work
(:data:`SOLVER_KEYS`), the units kept per layer, the mask and its hash, ``instance_sha`` (a bit-exact digest of
the built SCIP model: it tells whether the builder's float path gave the same instance) and the manifest of the
run that wrote it (versions, lock, platform)."""

from __future__ import annotations

import copy
import dataclasses
import hashlib

import torch

from benchmark.mip.scorer import build_model, score_network
from benchmark.pipeline.stages import mask_digest
from benchmark.regression.fixtures import CASES, Fixture, SolverCase, load_fixture

SOLVER_KEYS = ("scip_version", "status", "nodes", "lp_iterations", "binaries_before_stable_removal",
               "binaries_after_stable_removal", "primal_bound")


def mask_bits(mask: dict[str, torch.Tensor]) -> dict[str, str]:
    """A mask as one ``0``/``1`` string per layer (kept units are ``1``), for records that compare overlap."""
    return {name: "".join("1" if kept else "0" for kept in keep.tolist()) for name, keep in mask.items()}


def instance_sha(model) -> str:
    """A short sha256 of a SCIP model, bit-exact: every variable (name, type, bounds, objective coefficient in
    hex) and every constraint (name, handler, and for linear ones both sides and every coefficient in hex)."""
    digest = hashlib.sha256()
    for var in model.getVars():
        digest.update(f"{var.name} {var.vtype()} {var.getLbOriginal().hex()} {var.getUbOriginal().hex()} "
                      f"{var.getObj().hex()};".encode())
    for cons in model.getConss():
        kind = cons.getConshdlrName()
        digest.update(f"{cons.name} {kind};".encode())
        if kind == "linear":
            coefficients = " ".join(f"{name}:{value.hex()}" for name, value in model.getValsLinear(cons).items())
            digest.update(f"{model.getLhs(cons).hex()} {model.getRhs(cons).hex()} {coefficients};".encode())
    return digest.hexdigest()[:16]


def _batch(case: SolverCase, fixture: Fixture):
    return fixture.inputs[: case.n_samples], fixture.labels[: case.n_samples]


def solve_case(case: SolverCase, fixture: Fixture | None = None) -> dict:
    """Build and solve ``case`` on one torch and one SCIP thread; its record (without manifest)."""
    fixture = fixture or load_fixture(case.fixture)
    torch.set_num_threads(1)
    inputs, labels = _batch(case, fixture)
    encoded, _ = build_model(fixture.model, inputs, labels, case.options)
    result = score_network(fixture.model, inputs, labels, case.options, case.threshold)
    stats = result.solver.as_dict()
    return {"name": case.name, "fixture": case.fixture, "fixture_sha256": fixture.sha256,
            "options": dataclasses.asdict(case.options), "n_samples": case.n_samples, "threshold": case.threshold,
            "solver": {key: stats[key] for key in SOLVER_KEYS},
            "instance_sha": instance_sha(encoded.builder.scip.model),
            "kept": {name: int(keep.sum()) for name, keep in result.mask.items()}, "mask_sha": mask_digest(result.mask),
            "mask": mask_bits(result.mask)}


def solver_records(cases: tuple[SolverCase, ...] = CASES) -> dict[str, dict]:
    """Every case solved now, by name."""
    return {case.name: solve_case(case) for case in cases}


def perturbed(fixture: Fixture, seed: int, fraction: float = 0.5) -> Fixture:
    """``fixture`` with a random ``fraction`` of its weights moved by one float32 ulp (up or down): a stand-in
    for the last-bit differences another processor's float path leaves in a network."""
    generator = torch.Generator().manual_seed(seed)
    model = copy.deepcopy(fixture.model)
    with torch.no_grad():
        for param in model.parameters():
            chosen = torch.rand(param.shape, generator=generator) < fraction
            up = torch.rand(param.shape, generator=generator) < 0.5
            target = torch.where(up, torch.full_like(param, float("inf")), torch.full_like(param, float("-inf")))
            param.copy_(torch.where(chosen, torch.nextafter(param, target), param))
    return dataclasses.replace(fixture, model=model.eval())
