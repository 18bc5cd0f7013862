"""promptaudit: a gate that keeps guardrails in LLM system prompts from being removed unreviewed."""

__version__ = "0.1.0"
