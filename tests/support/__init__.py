"""Test support, not tests: a fake OpenAI server, scripted models, the training smoke runs and shared helpers."""
