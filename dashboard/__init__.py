"""ConvNet Explorer's logic: everything the pages, the command line and the tools call.

Importing the package pins TensorFlow's thread pools (`dashboard.training.reproducible`) before any
module can start TensorFlow, so every training in any process is reproducible.
"""

from dashboard.training.reproducible import pin_threads

pin_threads()
