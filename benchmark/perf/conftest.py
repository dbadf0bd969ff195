"""pytest-benchmark glue: after the run, print each group's reference/candidate time ratio side by side.

A benchmark marks itself as the group's reference with ``benchmark.extra_info["role"] = "reference"``.
"""


def pytest_terminal_summary(terminalreporter, config):
    """Print median-time ratios (reference / candidate) for every benchmark group."""
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups: dict[str, list] = {}
    for bench in session.benchmarks:
        groups.setdefault(bench.group or bench.name, []).append(bench)
    terminalreporter.section("ratios (reference median / candidate median)")
    for group, benches in groups.items():
        reference = [b for b in benches if b.extra_info.get("role") == "reference"]
        for bench in benches:
            if reference and bench not in reference:
                ratio = reference[0].stats.median / bench.stats.median
                terminalreporter.write_line(f"{group}: {bench.name} is {ratio:.2f}x faster than {reference[0].name}")
            for key, value in bench.extra_info.items():
                if key != "role":
                    terminalreporter.write_line(f"{group}: {bench.name} {key} = {value}")
