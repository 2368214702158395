"""Per-word attention heatmaps: which image regions each word of the prompt attended to."""

from ml_engine.attention.maps import AttentionMaps, prompt_words, supports_attention, word_maps

__all__ = ["AttentionMaps", "prompt_words", "supports_attention", "word_maps"]
