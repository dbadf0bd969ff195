"""Stages return typed records (one dataclass per stage kind), and the report's column contract is derived from
them: what a record stores, which of its columns a report requires, and that a row the runner stores is its
record's."""

import dataclasses

import pytest

from benchmark.core.records import EvaluateRecord, PruneRecord, RetrainRecord, StageRecord, TrainRecord, TransferRecord
from benchmark.report import ReportError
from benchmark.report.contract import OPTIONAL, RECORDS, REQUIRED, stage_rows
from tests.report_frames import suite_frame

ALL = (TrainRecord, PruneRecord, EvaluateRecord, RetrainRecord, TransferRecord)


@pytest.mark.parametrize("record", ALL)
def test_every_reported_column_is_a_field_of_its_record(record):
    fields = {f.name for f in dataclasses.fields(record)}
    assert set(record.REPORTED) <= fields - set(record.FLATTENED)


def test_a_row_leaves_out_what_was_not_measured_and_flattens_the_method_columns():
    record = EvaluateRecord(0.98, 0.95, 0.4, 0, neurons_removed=0.3, cost={"macs": 12},
                            method_columns={"solve_seconds": 1.5})
    assert record.row() == {"dense_accuracy": 0.98, "pruned_accuracy": 0.95, "params_removed": 0.4,
                            "finetune_epochs": 0, "neurons_removed": 0.3, "macs": 12, "solve_seconds": 1.5}


def test_the_contract_requires_the_reported_fields_without_a_default():
    assert REQUIRED["evaluate"] == ("dense_accuracy", "pruned_accuracy", "params_removed")
    assert "finetuned_accuracy" in OPTIONAL["evaluate"] and "neurons_removed" in OPTIONAL["transfer"]
    assert set(RECORDS) == set(REQUIRED)


def test_a_field_made_required_in_its_record_is_required_by_the_report():
    """The contract follows the record type: give ``finetuned_accuracy`` no default and it is required, and a row
    without it is refused."""

    @dataclasses.dataclass(frozen=True)
    class Stricter(StageRecord):
        dense_accuracy: float
        pruned_accuracy: float
        params_removed: float
        finetuned_accuracy: float
        REPORTED = ("dense_accuracy", "pruned_accuracy", "params_removed", "finetuned_accuracy")

    assert "finetuned_accuracy" not in EvaluateRecord.reported(required=True)
    assert Stricter.reported(required=True) == (*REQUIRED["evaluate"], "finetuned_accuracy")
    frame = suite_frame().drop(columns="finetuned_accuracy")
    stage_rows(frame, "evaluate")  # optional today
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(REQUIRED, "evaluate", Stricter.reported(required=True))
        with pytest.raises(ReportError, match="evaluate rows lack the columns finetuned_accuracy"):
            stage_rows(frame, "evaluate")
