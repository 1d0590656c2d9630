"""emofuse: multimodal emotion recognition from text, voice and face."""

__version__ = "0.1.0"
