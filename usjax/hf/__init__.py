"""Hugging Face Qwen2-VL checkpoints in and out: config, tensors, tokenizer and image processing."""
