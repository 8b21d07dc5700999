"""Results -> what a reader sees: aggregation and Markdown tables (``tables``), figures (``figures``), one
self-contained HTML page (``html``), and reading a study's result files back (``results``)."""
