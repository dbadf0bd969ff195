#!/usr/bin/env bash
# How results/paper-gpu was produced on a lent H100 (16 cores), in three back-to-back device calls:
#   install: carry .whl (pyscipopt, platformdirs, ticketbench for its method entry points) -> /tmp/site (outside the checkout, which each call re-sends)
#   launch:  carry .devdata (CIFAR-10 in the paper's grayscale, derived with torchvision's rgb_to_grayscale from
#            ../shared/data/cifar10.npz: the loader's own preprocessing, checked byte-identical) and start both
#            suites in the background, then follow them
#   collect: follow them to the end (or the device budget) and copy the stores and reports to $OUT
set -u
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1 TICKETBENCH_CACHE=/tmp/tb-cache
case "$1" in
install)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    nvidia-smi -L; nproc; python3 -c "import torch, pyscipopt; print(torch.__version__, pyscipopt.__version__)"
    python3 -m benchmark list methods ;;
launch)
    mkdir -p /tmp/tb
    setsid nohup python3 -m benchmark run results/paper-gpu/lenet5-cifar10.toml --device cuda --workers 3 \
        --data-dir .devdata --store /tmp/tb/lenet-store --out /tmp/tb/lenet-report > /tmp/tb/lenet.log 2>&1 &
    setsid nohup python3 -m benchmark run results/paper-gpu/vgg16-cifar10.toml --device cuda --workers 13 \
        --data-dir .devdata --store /tmp/tb/vgg-store --out /tmp/tb/vgg-report > /tmp/tb/vgg.log 2>&1 &
    "$0" follow "${2:-540}" ;;
follow)
    end=$((SECONDS + $2))
    while [ $SECONDS -lt $end ] && pgrep -f "benchmark run" > /dev/null; do sleep 20; done
    tail -n 4 /tmp/tb/lenet.log /tmp/tb/vgg.log; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv ;;
collect)
    "$0" follow "${2:-200}"
    cp /tmp/tb/lenet.log /tmp/tb/vgg.log "$OUT"/
    tar czf "$OUT"/stores.tgz --exclude='heads.pt' -C /tmp/tb lenet-store vgg-store lenet-report vgg-report 2>&1 | tail -2
    ls -la "$OUT" ;;
esac
