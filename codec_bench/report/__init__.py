"""Results -> what a reader sees: aggregated rows over folds and seeds (``aggregate``), the recipe each grid chose on
validation (``selection``), intervals and tests from the prediction files (``significance``), Markdown tables
(``tables``), figures (``figures``), accuracy against cost with its Pareto fronts (``costs``), fidelity and
bitrate beside accuracy (``fidelity``), one self-contained HTML page (``html``), all of it written at once
(``write``), and reading a study's result files back (``results``)."""
