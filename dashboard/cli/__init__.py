"""The command line (`python -m dashboard …`): summaries, training and warming the cache, importing
models, the cluster's certificates. It sits on top, beside the pages, and calls the packages below.
"""
