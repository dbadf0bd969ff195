"""Suite files: presets load, and every invalid suite is refused in one line naming the file and the key."""

from pathlib import Path

import pytest

from benchmark.core.errors import ConfigError
from benchmark.pipeline.plan import plan_suite
from benchmark.pipeline.suites import available_suites, load_suite, parse_suite

TINY = Path(__file__).parents[1] / "suites" / "tiny.toml"
VALID = TINY.read_text()


def test_presets_load_and_plan():
    assert {"smoke", "quick", "paper"} <= set(available_suites())
    for name in available_suites():
        suite = load_suite(name)
        assert suite.name == name and plan_suite(suite)


def test_the_tiny_plan_has_every_stage_once():
    """1 seed: 2 dense trainings (MNIST, and Fashion-MNIST for the transfer's dense reference), 6 prunes, 6 plain
    and 6 fine-tuned evaluations, 6 retrainings, 6 ticket transfers and 6 random controls (5 reuse random's)."""
    kinds = [job.kind for job in plan_suite(load_suite(str(TINY)))]
    assert {kind: kinds.count(kind) for kind in set(kinds)} == {
        "train": 2, "prune": 6, "evaluate": 12, "retrain": 6, "transfer": 12}


@pytest.mark.parametrize("edit,message", [
    (("models = [\"fc3\"]", "models = [\"fc5\"]"), "tiny.toml: models: unknown name 'fc5'; choose from: fc3, fc4"),
    (("datasets = [\"mnist\"]", "datasets = [\"svhn\"]"), "datasets: unknown name 'svhn'; choose from: mnist"),
    (("[methods.random]", "[methods.grasp]"), "methods.grasp: unknown method 'grasp'; choose from: critical"),
    (("[methods.random]\nmatch = \"mip\"", "[methods.random]\nthresholds = [1.5]"),
     "tiny.toml: methods.random.thresholds: must lie in [0, 1], got 1.5"),
    (("[methods.random]\nmatch = \"mip\"", "[methods.random]\nsparsities = [1.0]"),
     "tiny.toml: methods.random.sparsities: must lie in [0, 1), got 1.0"),
    (("seeds = [0]\n", ""), "tiny.toml: seeds: missing key"),
    (("[train]", "[train"), "tiny.toml: not valid TOML"),
    (("options = { round_epochs = 1 }", "options = { rewind_iterations = 1 }"),
     "methods.lottery.options: unknown lottery option 'rewind_iterations'; valid options: prune_fraction"),
    (("[methods.random]\nmatch = \"mip\"", "[methods.random]\nmatch = \"snap\""),
     "methods.random.match: unknown method 'snap'"),
    (("mnist = [\"fashion-mnist\"]", "mnist = [\"cifar10\"]\n"), None),
    (("seeds = [0]\n", "seeds = [0]\ndevice = \"gpu\"\n"),
     "tiny.toml: device: must be one of auto, cpu, cuda, got 'gpu'"),
    (("seeds = [0]\n", "seeds = [0]\ndevice = 1\n"), "tiny.toml: device: must be str, got 1"),
    (("epochs = 2", "epochs = \"three\""), "tiny.toml: train.epochs: must be int, got 'three'"),
    (("epochs = 2", "epochs = 2\n[train.fc3]\nlr = \"fast\""), "tiny.toml: train.fc3.lr: must be float, got 'fast'"),
    (("seeds = [0]\n", "seeds = [0]\ndeviation = [\"typo\"]\n"), "tiny.toml: deviation: unknown key; choose from"),
    (("seeds = [0]\n", "seeds = [0]\ndeviations = \"one\"\n"), "tiny.toml: deviations: must be list"),
    (("seeds = [0]\n", "seeds = [0]\ndeviations = [\"a\\nb\"]\n"), "tiny.toml: deviations: each must be a one-line"),
    (("retrain_epochs = 1", "retrain_epochs = \"all\""),
     'tiny.toml: budget.retrain_epochs: must be int or "full", got \'all\''),
    (("finetune_epochs = 1", "finetune_epochs = -1"), "tiny.toml: budget.finetune_epochs: must be >= 0, got -1"),
    (("finetune_epochs = 1", "finetune_epoch = 1"), "tiny.toml: budget.finetune_epoch: unknown key"),
    (("mnist = [\"fashion-mnist\"]", "mnist = []"), "tiny.toml: transfer.mnist: must not be empty"),
])
def test_invalid_suites_are_one_line(edit, message):
    text = VALID.replace(*edit)
    assert text != VALID
    if message is None:
        assert parse_suite(text, TINY).transfer == {"mnist": ("cifar10",)}  # paper inputs: every shape is 3x32x32
        return
    with pytest.raises(ConfigError) as info:
        parse_suite(text, TINY)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_transfer_between_different_input_shapes_is_refused():
    text = VALID.replace("epochs = 2\n", "epochs = 2\npreprocessing = \"native\"\n").replace(
        "mnist = [\"fashion-mnist\"]", "mnist = [\"cifar10\"]")
    with pytest.raises(ConfigError, match=r"tiny.toml: transfer.mnist: cifar10 inputs are \(3, 32, 32\), mnist "
                                          r"inputs \(1, 28, 28\)"):
        parse_suite(text, TINY)


def _jobs(text):
    return plan_suite(parse_suite(text, TINY))


def test_distinct_specs_never_share_a_label():
    """A matched method's sweep stays in its label, and each random control names the point it copies."""
    snip = "[methods.snip]\nmatch = \"mip\""
    jobs = _jobs(VALID.replace(snip, snip + "\nsweep = { images = [64, 128] }"))
    snip = {job.point for job in jobs if job.kind == "prune" and job.method == "snip"}
    assert snip == {"match=mip[images=64]", "match=mip[images=128]"}
    no_random = "\n".join(line for line in VALID.replace("[methods.random]\nmatch = \"mip\"\n", "").splitlines())
    text = no_random.replace("options = { loss = \"margin\", time_limit = 60.0 }",
                             "options = { loss = \"margin\", time_limit = 60.0 }\nthresholds = [0.1, 0.3]")
    text = text.replace("transfer_epochs = 1", "transfer_epochs = 1\ntickets_at = \"all\"")
    jobs = _jobs(text)
    controls = [job for job in jobs if job.kind == "prune" and job.method == "random"]
    assert len(controls) == len({job.point for job in controls}) == 2


def test_every_stage_of_a_mask_carries_its_operating_point_as_facts():
    """The point's facts are columns (threshold, sparsity and scope, matched method and point, sweep); the label is
    derived from them, and every evaluation, retraining and transfer of a mask carries its prune's."""
    snip = "[methods.snip]\nmatch = \"mip\""
    text = VALID.replace("options = { loss = \"margin\", time_limit = 60.0 }",
                         "options = { loss = \"margin\", time_limit = 60.0 }\nthresholds = [0.1, 0.3]")
    jobs = _jobs(text.replace(snip, snip + "\nsweep = { images = [64, 128] }"))
    prunes = {job.hash: job for job in jobs if job.kind == "prune"}
    mip = [job.at for job in prunes.values() if job.method == "mip"]
    assert [(at.threshold, at.matched, at.label) for at in mip] == [(0.1, "", "tau=0.1"), (0.3, "", "tau=0.3")]
    snips = sorted((job.at for job in prunes.values() if job.method == "snip"), key=lambda at: at.label)
    assert {(at.matched, at.matched_point, at.sweep) for at in snips} == {
        ("mip", point, sweep) for point in ("tau=0.1", "tau=0.3") for sweep in ("images=64", "images=128")}
    assert snips[0].label == "match=mip@tau=0.1[images=128]" and snips[0].threshold is None
    for job in jobs:
        if job.kind in ("evaluate", "retrain", "transfer"):
            assert job.at == prunes[job.spec.prune.hash].at
    control = next(job.at for job in prunes.values() if job.method == "random" and job.at.name_matched_point)
    assert control.matched == "mip" and control.label == f"match=mip@{control.matched_point}"


def test_transfer_trains_for_the_target_datasets_own_budget_by_default():
    text = VALID.replace("transfer_epochs = 1\n", "")
    tickets = [job for job in _jobs(text.replace("[budget]", "[train.fashion-mnist]\nepochs = 4\n\n[budget]"))
               if job.kind == "transfer"]
    assert tickets and {job.spec.target.epochs for job in tickets} == {4}


@pytest.mark.parametrize("line, device", [("", "cpu"), ('device = "auto"\n', "auto"), ('device = "cuda"\n', "cuda")])
def test_a_suite_names_its_device_and_plans_the_same_stages_on_any(line, device):
    """The device is where stages run, not what they are: the same stage hashes on every device (and a cuda suite
    loads and plans on a machine without a GPU; it is resolved when it runs)."""
    suite = parse_suite(VALID.replace("seeds = [0]\n", "seeds = [0]\n" + line), TINY)
    assert suite.device == device
    assert [job.hash for job in plan_suite(suite)] == [job.hash for job in _jobs(VALID)]


@pytest.mark.parametrize("name", ["../smoke", "a/b", "a\\\\b", ".hidden", "a..b", "", "x" * 65, "two words", "tab\\t"])
def test_a_suite_name_is_a_plain_name(name):
    with pytest.raises(ConfigError) as info:
        parse_suite(VALID.replace('name = "tiny"', f'name = "{name}"'), TINY)
    assert str(info.value).startswith("tiny.toml: name: ") and "not a plain name" in str(info.value)
    assert "\n" not in str(info.value)


def test_a_suite_file_may_take_a_presets_name_only_with_its_content(tmp_path):
    """Else ``run`` would print the preset's rows and the store would mix two configurations under one name."""
    impostor = tmp_path / "mine.toml"
    impostor.write_text(VALID.replace('name = "tiny"', 'name = "smoke"'))
    with pytest.raises(ConfigError) as info:
        load_suite(str(impostor))
    assert str(info.value).startswith("mine.toml: name: 'smoke' is a preset's name") and "\n" not in str(info.value)
    copy = tmp_path / "copy.toml"
    copy.write_text(available_suites()["smoke"].read_text() + "\n# my copy\n")
    assert load_suite(str(copy)) == load_suite("smoke")


def test_a_binary_file_is_not_a_suite(tmp_path):
    binary = tmp_path / "model.pt"
    binary.write_bytes(b"PK\x03\x04\xff\xfe\x00\x01" * 8)
    with pytest.raises(ConfigError, match=r"^model.pt: not a suite file: byte 4 is not UTF-8 text$"):
        load_suite(str(binary))


def test_deviations_are_read_and_never_move_a_stage():
    lines = ["3 epochs on a slice (paper: 30 on the full set)", "margin loss, exact binaries"]
    text = VALID.replace("seeds = [0]\n", f"seeds = [0]\ndeviations = {lines!r}\n".replace("'", '"'))
    suite = parse_suite(text, TINY)
    assert suite.deviations == tuple(lines) and parse_suite(VALID, TINY).deviations == ()
    assert [job.hash for job in plan_suite(suite)] == [job.hash for job in _jobs(VALID)]


@pytest.mark.parametrize("name", ["smoke", "quick", "paper", "paper-digits"])
def test_every_preset_names_its_deviations_from_the_paper(name):
    deviations = load_suite(name).deviations
    assert deviations and all(line.strip() and "\n" not in line for line in deviations)


def test_a_full_retraining_budget_is_the_source_datasets_own_epochs():
    text = VALID.replace("retrain_epochs = 1", 'retrain_epochs = "full"')
    assert {job.spec.epochs for job in _jobs(text.replace("[budget]", "[train.mnist]\nepochs = 4\n\n[budget]"))
            if job.kind == "retrain"} == {4}
    full = parse_suite(text.replace("transfer_epochs = 1", 'transfer_epochs = "full"'), TINY).budget
    assert (full.retrain_epochs, full.transfer_epochs) == (None, None)


def test_the_paper_retrains_every_ticket_for_its_dense_nets_budget():
    """LeNet-5 and the FC nets train 256 epochs on CIFAR-10: their tickets too, not the digit sets' 30."""
    jobs = plan_suite(load_suite("paper"))
    retrains = [job.spec for job in jobs if job.kind == "retrain"]
    assert retrains and all(spec.epochs == spec.prune.train.epochs for spec in retrains)
    assert {spec.epochs for spec in retrains if spec.prune.train.model == "lenet5"} == {30, 256}


def test_the_paper_trains_vgg16_on_a_digit_set_with_vgg16s_own_sgd():
    """The notebook trains VGG-16 on MNIST and Fashion-MNIST (its transfer targets) as on CIFAR-10: SGD lr 0.1,
    Nesterov 0.9, weight decay 5e-4, 30 epochs; the dense reference with DGL. Never the digit sets' RMSprop."""
    jobs = plan_suite(load_suite("paper"))
    dense = {(job.spec.dataset, job.spec.seed): job.spec for job in jobs
             if job.kind == "train" and job.spec.model == "vgg16" and job.spec.dataset != "cifar10"}
    tickets = [job.spec for job in jobs if job.kind == "transfer" and job.spec.prune.train.model == "vgg16"]
    assert len(dense) == 6 and tickets
    for config in dense.values():
        assert (config.optimizer, config.lr, config.momentum, config.nesterov, config.weight_decay, config.epochs,
                config.augment, config.training) == ("sgd", 0.1, 0.9, True, 5e-4, 30, "none", "dgl")
    for ticket in tickets:  # the ticket trains with its dense reference's config
        assert ticket.target == dense[(ticket.target.dataset, ticket.target.seed)]


def test_the_digit_set_preset_is_a_part_of_the_paper_preset():
    """``paper-digits`` runs the paper's own stages (a store filled by it counts for ``paper``): FC-3, FC-4 and
    LeNet-5 trained, pruned and retrained on both digit sets, and transferred from MNIST to Fashion-MNIST."""
    digits, paper = plan_suite(load_suite("paper-digits")), {job.hash for job in plan_suite(load_suite("paper"))}
    assert {job.hash for job in digits} <= paper
    trained = {(job.spec.model, job.spec.dataset) for job in digits if job.kind == "train"}
    assert trained == {(m, d) for m in ("fc3", "fc4", "lenet5") for d in ("mnist", "fashion-mnist")}
    assert {job.spec.epochs for job in digits if job.kind == "train"} == {30}
