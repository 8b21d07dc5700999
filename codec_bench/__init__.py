"""codec-bench: classify audio with a speech LLM over neural-codec tokens.

Pipeline (one module per stage, in order): ``data`` (corpus -> manifest) -> ``audio`` (decode, mono, 16 kHz)
-> ``codecs`` (audio -> discrete tokens) -> ``cache`` (tokens on disk) -> ``prompts`` -> ``model`` / ``train``
-> ``evaluate`` -> ``report``. ``pipeline`` chains the stages; ``cli`` exposes them.
"""

__version__ = "0.1.0"
