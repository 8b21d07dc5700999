"""The LLM side: load a causal LM and its tokenizer or build the embedded tiny one (``model``), turn prompts into
ids with the audio slot filled (``model.PromptEncoder``), add speech tokens to any LM (``vocab``), project
continuous frames into its embeddings (``projector``), and fine-tune it with the answer-only loss (``train``)."""
