"""swarmgen: an open network for generative-AI inference."""

__version__ = "0.1.0"
