"""Model backends: diffusers for images, transformers for text, echo for dispatch tests.

torch, diffusers and transformers are imported lazily inside the backends that need
them, so the coordinator starts without them.
"""
