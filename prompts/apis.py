"""Prompts have no API of their own: POST /api/jobs/ creates the prompt and its job together."""
