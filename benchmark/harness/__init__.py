"""The benchmark harness: suites (TOML) expanded into stages, run by an executor, stored, and reported.

* :mod:`~benchmark.harness.suites`: suite files into frozen, validated :class:`Suite` objects.
* :mod:`~benchmark.harness.plan`: a suite into its stages (train, score, prune, evaluate, retrain, transfer)
  with their dependencies, each named by the hash of its spec.
* :mod:`~benchmark.harness.stage_context`: what a stage runs with (:class:`StageEnv`, :class:`StageInputs`) and
  the per-process caches of data, trained models and experiments it loads.
* :mod:`~benchmark.harness.stages`: what each stage computes and stores.
* :mod:`~benchmark.harness.executors`: inline, local process pool and Dask.
* :mod:`~benchmark.harness.runner`: runs what is missing, resumably, with progress; claims each stage in the store
  (:mod:`benchmark.store.claims`) so that concurrent runs share the work.
* :mod:`~benchmark.harness.lifetime`: workers die with their parent; SIGTERM stops a run like Ctrl-C.
"""
