"""Keras models and their training: the model built from a `NetworkSpec` (`model`), the settings and
their optimizer (`train_settings`, `optim`), the training loop (`trainer`), reproducibility
(`reproducible`), the verdict on a training (`diagnosis`), and lists of runs (`families`, `grids`).
"""
