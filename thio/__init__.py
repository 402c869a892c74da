"""thio: technometric (THIO/TCC) survey pipeline library.

Pure functions only: nothing here imports prefect, except where the CLI starts a flow.
"""

__version__ = "0.1.0"
