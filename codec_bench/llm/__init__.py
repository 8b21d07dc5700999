"""The LLM side: load a causal LM and its tokenizer or build the embedded tiny one, add LoRA (``model``), turn
prompts into ids with the audio slot filled (``encoder.PromptEncoder`` and its kin), add speech tokens to any LM
(``vocab``), project continuous frames into its embeddings (``projector``), read k frames as one position
(``patching``) or merge frequent runs of units into new tokens (``unit_bpe``), and fine-tune it with the
answer-only loss (``train``: the recipe; ``loss``: the shifted answer-only loss; ``batches``: the dataset, the
left-padding collator and the label questions' tree mask, shared with scoring; ``callbacks``: the training log,
model selection and early stopping; ``checkpoints``: the checkpoints a resume can start from; ``tracking``: losses
and metrics to TensorBoard, wandb or mlflow)."""
