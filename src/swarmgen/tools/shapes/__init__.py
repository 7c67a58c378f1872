"""Training and evaluation of shapes-64: procedural scenes, tokenizer, recipe, read-back.

The runtime part of the model (its UNet class and the shipped weights) stays in
:mod:`swarmgen.shapes`; everything here only runs when a model is trained or judged.
"""
