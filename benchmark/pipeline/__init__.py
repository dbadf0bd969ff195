"""The pipeline: suites (TOML) expanded into stages, run by an executor, stored, and reported.

* :mod:`~benchmark.pipeline.suites`: suite files into frozen, validated :class:`Suite` objects.
* :mod:`~benchmark.pipeline.plan`: a suite into its stages (train, score, prune, evaluate, retrain, transfer)
  with their dependencies, each named by the hash of its spec.
* :mod:`~benchmark.pipeline.stage_context`: what a stage runs with (:class:`StageEnv`, :class:`StageInputs`) and
  the per-process caches of data, trained models and experiments it loads.
* :mod:`~benchmark.pipeline.stages`: what each stage computes and stores.
* :mod:`~benchmark.pipeline.executors`: inline, local process pool and Dask.
* :mod:`~benchmark.pipeline.runner`: runs what is missing, resumably, with progress; claims each stage in the store
  (:mod:`benchmark.store.claims`) so that concurrent runs share the work.
* :mod:`~benchmark.pipeline.lifetime`: workers die with their parent; SIGTERM stops a run like Ctrl-C.
* :mod:`~benchmark.pipeline.model_cache`: trained dense models cached under the hash of their config.
* :mod:`~benchmark.pipeline.experiment`: a cached model turned into a scoring context, and a mask evaluated on it.
* :mod:`~benchmark.pipeline.estimate`: the cost estimate ``--dry-run`` prints.
* ``suites/``: the preset suites (``smoke``, ``quick``, ``paper``), the one place presets live.
"""
