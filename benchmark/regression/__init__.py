"""CI regression checks of accuracy and of the MIP's solver work against records in ``results/baselines/``.

* :mod:`~benchmark.regression.configs`: the configurations (suite TOMLs in ``suites/``), run through the
  harness into a temporary store, and the stages whose results are recorded.
* :mod:`~benchmark.regression.records`: one record per configuration, built from the stored rows, and the
  record files.
* :mod:`~benchmark.regression.compare`: records against current values, as a diff table (config, metric,
  reference, now, tolerance).
* :mod:`~benchmark.regression.update`: ``ticketbench baseline update [--yes]``.
* :mod:`~benchmark.regression.spread`: the seed-to-seed spread the accuracy tolerances come from (run once).
* :mod:`~benchmark.regression.timing`: the control MIP instance and the ratio clock of the time benchmark.
"""
