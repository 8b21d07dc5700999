"""Fixtures beside the product, not inside it: tiny random-weight models of the real classes (``tiny_models``) for
the tests, the benches (``bench/``) and ``codec-bench tiny-models``. No stage of the pipeline imports this package."""
