"""The frozen text encoder and its caption-state cache."""
