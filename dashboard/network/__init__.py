"""What a network is, as pure data: `NetworkSpec`, the geometry of a chain of layers (shapes,
parameters, receptive fields), Keras layer configurations read as plain data, summaries, a shape
in words and a convolution step by step. No TensorFlow, no Streamlit: the bottom of the house.
"""
