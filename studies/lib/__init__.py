"""Study tooling behind the benchmark scripts: statistics over seeds and episodes (significance, sweep_stats),
per-region diagnostics and failure tables of sweeps, kept out of the installed package (nothing in
``equidiff_relaxed`` imports it). The scripts in ``benchmarks/`` put the checkout's root first on ``sys.path``, so
``studies.lib`` and ``equidiff_relaxed`` both come from this checkout."""
