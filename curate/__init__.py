"""curate: lint, curate and certify conversation datasets for LLM fine-tuning."""

__version__ = "0.1.0"
