"""Tables, plots, claims and one HTML page, all made from the results frame alone (``benchmark.store.frame``).

``html.write_report(load_results(root, suite), suite, out_dir)`` writes everything. The modules read only
the columns below (the runner writes them as top-level record keys); other columns are ignored, rows whose
store ``status`` is not ``"ok"`` are skipped, and a stage that has rows but lacks a required column is a
one-line :class:`ReportError`.

Column contract. Accuracies and removed fractions are fractions in [0, 1]; the reports print percentages.

=========  ===========================================================================================
every row  ``stage`` in {train, evaluate, retrain, transfer}; ``model``; ``dataset`` (the source dataset);
           ``seed`` (int); ``method`` (str, ``"dense"`` for train rows); ``point`` (str label of the
           operating point, for display: ``"tau=0.1"``, ``"sparsity=0.5"``, ``"match=mip"``; ``""`` for train
           rows); on evaluate, retrain and transfer rows optionally the point's facts
           (:class:`benchmark.pipeline.plan.Point`): ``threshold``, ``sparsity``, ``scope``, ``matched`` (the
           method whose counts the mask keeps, ``""`` for none), ``matched_point`` (that method's point) and
           ``sweep``; rows without them (written before they existed) get ``matched`` and ``matched_point``
           from the label (:func:`benchmark.report.contract.with_point_columns`)
train      ``test_accuracy``, ``parameters`` (int), ``units`` (int, prunable units)
evaluate   the pruned network on the source test set: ``dense_accuracy``, ``pruned_accuracy`` (no
           fine-tuning), ``neurons_removed``, ``params_removed`` (counting the dead outgoing weights too);
           optional: ``finetuned_accuracy`` (NaN or absent without fine-tuning); ``params_removed_official``
           (neuron masks: the official code's count, the pruned units' incoming weights only; also on retrain
           rows); from a method's ``evaluation_columns`` hook (the MIP's solver statistics):
           ``solve_seconds``, ``binaries``, ``units``; for neuron tickets, the compacted ticket's cost:
           ``compacted_parameters``, ``macs`` (per image), ``latency_speedup_b1`` and
           ``throughput_speedup_b256`` (dense time / compacted time, one CPU thread); ``primary`` (bool: the
           method's first operating point, the paper's setting in the presets; claim 1 judges only those rows
           when the column is there).
           SCIP's status belongs in the nested solver stats (``solver.status``, e.g. ``SolverStats.as_dict()``
           under ``solver``): ``status`` is the store's own column, so a record may not use that key. The
           claims read ``solver.status`` (a run that stopped at a limit and pruned nothing is left out) and
           the solve-time plot ``solver.variables`` (the size of a relaxed program, which has no binaries).
prune      read by the per-layer figures and Table 3 only: ``kept.<layer>`` and ``sizes.<layer>`` (units kept
           and units), ``score_levels.<layer>.{zero,between,one}`` (scores in [0, 1]), ``options.<name>``.
retrain    ``retrained_accuracy`` (the ticket rewound to theta_0 and retrained on the source),
           ``neurons_removed``, ``params_removed``
transfer   ``target_dataset``, ``transfer_accuracy``, ``control`` in {ticket, random} (random: a random mask
           with the same per-layer counts, rewound to the same theta_0), ``neurons_removed``,
           ``params_removed``. The dense reference on the target is the train row with
           ``dataset == target_dataset`` and the same model and seed.
=========  ===========================================================================================

Baselines with ``matched == "mip"`` use the MIP mask's per-layer counts; the claims pair each with the MIP row of
the same model, dataset and seed at its ``matched_point`` that removes the same fraction of neurons.

Cells are mean ± sample standard deviation (ddof 1) over seeds; with one seed the spread is printed ``± n/a``
(undefined, not zero); a cell with no value is ``–``.
"""


class ReportError(Exception):
    """The results frame does not follow the column contract; reported to the user as one line."""
