"""Keras model files read as data: a `.keras` or `.h5` file from outside is bounded, parsed and
checked before Keras deserialises anything (`modelfile`, `archive`), and a run's weights are read
as numpy arrays checked against its network (`weights`).
"""
