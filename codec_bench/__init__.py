"""codec-bench: classify audio with a speech LLM over neural-codec tokens.

Pipeline, package by package: ``data`` (corpus -> manifest, audio decoding) -> ``codecs`` (audio -> tokens or
frames, the token cache) -> ``prompts`` -> ``llm`` (model, prompt ids, training) -> ``evaluation`` (scoring,
generation, metrics, records, reference rows) -> ``report``. ``study`` chains the stages and runs studies; ``cli``
exposes them, with the settings of ``config``; ``formats`` owns the files they hand each other; ``loading`` fetches
pretrained weights for ``codecs`` and ``llm``; ``core`` is the ground under all of it. ``testing`` holds the tiny
random models of tests and benches, apart from the product. See docs/architecture.md.
"""

__version__ = "0.1.0"
