"""Crop-and-flip augmentation: each image its own crop of the zero-padded image and its own flip, seeded, batched,
only on training batches; ``augment="none"`` serves exactly what it served before."""

import hashlib

import pytest
import torch

from benchmark.core.config import TrainConfig
from benchmark.nn.training import evaluate, fit
from datasets import DatasetError, InMemoryLoader
from datasets.augment import PADDING, CropFlip, augment_generator


def _images(n=6, channels=2, size=32):
    """Distinct pixel values (mod 256, never 0 inside: padding zeros stay recognisable)."""
    values = torch.arange(n * channels * size * size).view(n, channels, size, size)
    return (values % 255 + 1).to(torch.uint8)


def _by_hand(image, dy, dx, flip):
    """Pad with zeros by hand, cut the 32x32 window at (dy, dx), reverse the columns when flipped."""
    c, h, w = image.shape
    padded = torch.zeros(c, h + 2 * PADDING, w + 2 * PADDING, dtype=image.dtype)
    padded[:, PADDING:PADDING + h, PADDING:PADDING + w] = image
    window = padded[:, dy:dy + h, dx:dx + w]
    return window.flip(-1) if flip else window


def test_crop_is_the_padded_image_shifted_by_its_offset_and_flip_reverses_the_width():
    images = _images()
    dy, dx = torch.tensor([0, 8, 4, 2, 7, 4]), torch.tensor([0, 8, 4, 6, 1, 4])
    flip = torch.tensor([False, False, False, True, True, True])
    out = CropFlip(dy, dx, flip).apply(images)
    assert out.dtype == torch.uint8 and out.shape == images.shape
    for b in range(len(images)):
        assert torch.equal(out[b], _by_hand(images[b], int(dy[b]), int(dx[b]), bool(flip[b]))), b
    assert torch.equal(out[2], images[2])  # offset (4, 4) without flip: the image itself
    assert torch.equal(out[5], images[5].flip(-1))  # offset (4, 4) with flip: the mirror image
    assert torch.equal(out[0, :, 4:, 4:], images[0, :, :28, :28]) and not out[0, :, :4].any()  # shifted, zeros in
    assert torch.equal(out[1, :, :28, :28], images[1, :, 4:, 4:]) and not out[1, :, 28:].any()


def test_every_image_gets_its_own_draw(mnist_small):
    draws = CropFlip.draw(512, augment_generator(0))
    assert len({(int(a), int(b)) for a, b in zip(draws.dy, draws.dx)}) > 40  # 81 possible offsets
    assert int(draws.dy.min()) == 0 and int(draws.dy.max()) == 2 * PADDING
    assert 0.4 < float(draws.flip.float().mean()) < 0.6
    copies = mnist_small.train.subset(torch.zeros(128, dtype=torch.long))  # one image 128 times: one batch
    (batch, _), = InMemoryLoader(copies, 128, seed=0, augment="crop-flip")
    assert len({x.numpy().tobytes() for x in batch}) > 40  # one draw per batch would give a single image


def _batches(data, seed, shuffle=True, epochs=1):
    loader = InMemoryLoader(data, 128, shuffle=shuffle, seed=seed, augment="crop-flip")
    return [torch.cat([x.flatten() for x, _ in loader]) for _ in range(epochs)]


@pytest.mark.parametrize("shuffle", [True, False])
def test_same_seed_same_batches_other_seed_other_batches(mnist_small, shuffle):
    """Unshuffled, the images come in the same order for every seed: only the draws can differ."""
    first, again = _batches(mnist_small.train, 0, shuffle, 2), _batches(mnist_small.train, 0, shuffle, 2)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], first[1])  # a new draw every epoch
    assert not torch.equal(first[0], _batches(mnist_small.train, 1, shuffle)[0])


def test_augmentation_keeps_the_batch_order_and_changes_the_images(mnist_small):
    plain = list(InMemoryLoader(mnist_small.train, 128, seed=3))
    augmented = list(InMemoryLoader(mnist_small.train, 128, seed=3, augment="crop-flip"))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(plain, augmented))  # same labels: same permutation
    assert all(a[0].shape == b[0].shape for a, b in zip(plain, augmented))
    changed = sum(not torch.equal(xa, xb) for a, b in zip(plain, augmented) for xa, xb in zip(a[0], b[0]))
    assert changed > 0.9 * len(mnist_small.train)  # only offset (4, 4) without a flip (1 in 162) leaves one as is


def test_none_serves_the_pipeline_byte_for_byte_as_before(mnist_small):
    """Pinned before augmentation existed: the first epoch's batches of the fixture with seed 0."""
    digest = hashlib.sha256()
    for x, y in InMemoryLoader(mnist_small.train, 128, seed=0, augment="none"):
        digest.update(x.numpy().tobytes() + y.numpy().tobytes())
    assert digest.hexdigest()[:16] == "a5ce1b578d7dd2aa"


def test_unknown_augmentation_is_one_line(mnist_small):
    with pytest.raises(DatasetError, match="unknown augmentation 'cutout'; choose one of: none, crop-flip"):
        InMemoryLoader(mnist_small.train, augment="cutout")


def test_validation_and_test_sets_are_never_augmented(mnist_small, monkeypatch):
    """fit augments only the training batches: the draws cover the training set alone, evaluate never augments."""
    sizes = []
    draw = CropFlip.draw.__func__
    monkeypatch.setattr(CropFlip, "draw", classmethod(lambda cls, n, g: sizes.append(n) or draw(cls, n, g)))
    config = TrainConfig.paper("fc3", "mnist", epochs=2, augment="crop-flip")
    result = fit(config, mnist_small)
    assert sizes == [len(mnist_small.train)] * 2
    before = (mnist_small.val.images.clone(), mnist_small.test.images.clone())
    assert evaluate(result.model, mnist_small.test) == (result.test_loss, result.test_accuracy)
    assert sizes == [len(mnist_small.train)] * 2
    assert torch.equal(before[0], mnist_small.val.images) and torch.equal(before[1], mnist_small.test.images)


def test_crop_flip_changes_training_and_is_reproducible(mnist_small):
    plain = fit(TrainConfig.paper("fc3", "mnist", epochs=1), mnist_small).model.state_dict()
    config = TrainConfig.paper("fc3", "mnist", epochs=1, augment="crop-flip")
    first, again = fit(config, mnist_small).model.state_dict(), fit(config, mnist_small).model.state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["fc1.weight"], plain["fc1.weight"])


@pytest.mark.cuda
def test_cuda_draws_and_crops_equal_the_cpu_ones(mnist_small):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    cpu = list(InMemoryLoader(mnist_small.train, 128, seed=5, augment="crop-flip"))
    gpu = list(InMemoryLoader(mnist_small.train.to("cuda"), 128, seed=5, augment="crop-flip"))
    assert all(g[0].is_cuda for g in gpu)
    pixels = [((c[0] * 255).round(), (g[0].cpu() * 255).round()) for c, g in zip(cpu, gpu)]  # x/255: an ulp apart
    assert all(torch.equal(c, g) for c, g in pixels)
    assert all(torch.equal(c[1], g[1].cpu()) for c, g in zip(cpu, gpu))
    assert all(torch.allclose(c[0], g[0].cpu(), rtol=0, atol=1e-6) for c, g in zip(cpu, gpu))
