"""What each CLI sub-command does, on parsed arguments, one module per concern. Each module imports only what
its commands need, and :mod:`benchmark.cli.main` imports a module only when its command is named, so that a command
that needs no torch (``list methods``, ``store check``) does not load it.

* :mod:`.common`: the store and the ``KEY=VALUE`` pairs several commands read (no torch).
* :mod:`.suite`: ``run`` and ``report``, and the checks and the device of commands that compute.
* :mod:`.prune`: ``prune`` and ``score`` (a one-off suite through the harness) and ``train``.
* :mod:`.listing`: ``list``.
* :mod:`.results`: ``results``.
* :mod:`.export`: ``export``.
* :mod:`.store`: ``store check`` and ``store repair``.
"""
