"""The ``ticketbench`` command line: :mod:`.main` (the entry point), :mod:`.parsers` and :mod:`.args` (the
argument parsers, driven by the typed configs) and :mod:`.commands` (one module per command, imported only when
its command is named)."""
