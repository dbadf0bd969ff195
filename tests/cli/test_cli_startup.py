"""The command line starts without torch: ``import benchmark.cli.main``, building the parser, ``--help`` and ``list
methods`` load none of it (a subprocess reports ``sys.modules``), and ``list methods`` reads the plug-ins'
descriptions from their sources, the same ones the loaded classes carry. Speed is measured, not asserted, by
``python -m benchmark.perf.cli_startup``."""

import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint

from benchmark.core.plugins import ENTRY_POINT_GROUP, static_description

PROBE = textwrap.dedent("""
    import contextlib, io, sys
    from benchmark.cli.main import build_parser, main
    build_parser()
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(["--help"])
        except SystemExit:
            pass
        assert main(["list", "methods"]) == 0
    print(sorted({name.split(".")[0] for name in sys.modules} & {"torch", "torchvision", "pandas"}))
""")


def test_the_parser_help_and_the_method_list_load_no_torch():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_listed_methods_carry_the_descriptions_of_the_loaded_plugins(capsys):
    from benchmark.cli.main import main
    from benchmark.core.plugins import method_entry_points
    from benchmark.methods import available_methods

    assert main(["list", "methods"]) == 0
    listed = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    installed = method_entry_points()  # not the methods other tests registered in this process
    assert listed == {name: cls.description for name, cls in available_methods().items() if name in installed}


def test_a_description_the_source_does_not_state_shows_the_entry_point_and_imports_nothing(tmp_path, monkeypatch):
    (tmp_path / "computed_plugin.py").write_text(
        "raise RuntimeError('imported')\n\nclass Plugin:\n    description = 'made ' + 'at run time'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = EntryPoint("computed", "computed_plugin:Plugin", ENTRY_POINT_GROUP)
    assert static_description(ep) == "computed_plugin:Plugin"
    assert "computed_plugin" not in sys.modules


def test_help_of_a_command_still_lists_the_methods_with_their_descriptions(capsys):
    from benchmark.cli.main import main

    try:
        main(["prune", "--help"])
    except SystemExit as stop:
        assert stop.code == 0
    out = capsys.readouterr().out
    assert "snip" in out and "SNIP: |gradient x weight| on one mini-batch" in out
