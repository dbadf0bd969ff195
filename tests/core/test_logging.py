"""Progress and warnings go through :mod:`logging`: the command line shows them on standard error for the length
of a command (``-q`` keeps only warnings), and a method's warnings reach the log, not the printed result."""

import logging

import pytest

from benchmark.cli.main import build_parser
from benchmark.core.log import cli_logging

log = logging.getLogger("benchmark.test")


def test_the_command_line_logs_info_bare_and_warnings_prefixed_on_stderr_only_while_it_runs(capsys):
    with cli_logging(logging.INFO):
        log.info("stage 1 of 3 done")
        log.debug("details")
        log.warning("empty layer kept")
    log.warning("after the command")  # our handler is gone (pytest's own handlers capture, they do not print)
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == ["stage 1 of 3 done", "warning: empty layer kept"]


def test_quiet_keeps_warnings_and_verbose_adds_details(capsys):
    for flag, shown in (("-q", ["warning: w"]), ("-v", ["debug benchmark.test: d", "i", "warning: w"])):
        with cli_logging(build_parser().parse_args([flag, "list"]).log_level):
            log.debug("d")
            log.info("i")
            log.warning("w")
        assert capsys.readouterr().err.splitlines() == shown


def test_a_method_warning_is_logged_beside_the_printed_result(caplog, capsys):
    from benchmark.cli.commands.prune import print_rows

    prune = {"method": "mip", "model": "fc3", "dataset": "mnist", "point": "tau=0.1", "kept": {"fc1": 3},
             "sizes": {"fc1": 4}, "neurons_removed": 0.25, "params_removed": 0.2,
             "stats": {"warnings": ["the solver stopped at its time limit"]}}
    evaluation = {"method": "mip", "dense_accuracy": 0.9, "pruned_accuracy": 0.8}
    with caplog.at_level(logging.WARNING):
        print_rows([{"stage": "prune", "record": prune}, {"stage": "evaluate", "record": evaluation}], "mip")
    assert [(r.name, r.levelno, r.message) for r in caplog.records] == [
        ("benchmark.cli.commands.prune", logging.WARNING, "the solver stopped at its time limit")]
    assert "pruned test accuracy: 0.8000" in capsys.readouterr().out


@pytest.mark.parametrize("flags", [["-q", "-v"], ["--quiet", "--verbose"]])
def test_quiet_and_verbose_exclude_each_other(flags, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([*flags, "list"])
    assert "not allowed with argument" in capsys.readouterr().err
