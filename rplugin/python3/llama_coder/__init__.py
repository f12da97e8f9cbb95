"""llama-coder.nvim engine: a pynvim remote plugin.

The pure core (``llama_coder.core``) and the backends never import pynvim; only the
plugin class does, and it is exported here when pynvim is installed.
"""

import sys

__all__ = ["LlamaCoderPlugin"]

# On Python < 3.10 nothing more is imported: `python -m llama_coder.host` runs this first,
# and host.py's version check then says what is wrong.
try:
    if sys.version_info < (3, 10):  # noqa: UP036 (runs on older Pythons on purpose)
        raise ImportError("the engine needs Python 3.10 or newer")
    import pynvim  # noqa: F401
except ImportError:  # the pure core and the backends stay importable without it
    __all__ = []
else:
    from llama_coder.plugin import LlamaCoderPlugin
