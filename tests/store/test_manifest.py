"""The manifest names the platform and the locked environment a result was made in."""

import json
import os
import subprocess
import sys

import pytest

from benchmark.store.manifest import (
    PLATFORM_KEYS,
    environment_sha,
    lock_sha,
    manifest,
    platform_fingerprint,
    same_platform,
)


def test_the_manifest_records_the_platform_the_lock_and_the_environment():
    found = manifest("cpu", 0)
    assert set(PLATFORM_KEYS) == set(found["platform"]) and all(found["platform"].values())
    assert found["environment"] == environment_sha() and len(found["environment"]) == 16
    assert found["lock"] == lock_sha()  # None outside a checkout, else the lock file's hash
    assert json.loads(json.dumps(found)) == found


def test_another_cpu_capability_is_another_platform():
    """torch's kernels follow ATEN_CPU_CAPABILITY: a process forced onto the DEFAULT kernels has another
    fingerprint, and same_platform tells them apart (it is what decides between exact and tolerant checks)."""
    here = platform_fingerprint()
    if here["cpu_capability"] == "DEFAULT":
        pytest.skip("torch already runs its DEFAULT kernels here: no other capability to force")
    code = "import json; from benchmark.store.manifest import platform_fingerprint as p; print(json.dumps(p()))"
    other = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                      env={**os.environ, "ATEN_CPU_CAPABILITY": "default"}).stdout)
    assert other["cpu_capability"] == "DEFAULT" != here["cpu_capability"]
    assert not same_platform(here, other) and same_platform(here, dict(here))
    assert not same_platform(here, None) and not same_platform(None, None)
