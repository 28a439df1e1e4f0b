"""Gated LoRA/QLoRA fine-tuning: ``curate train`` trains only on data that passed the lint."""
