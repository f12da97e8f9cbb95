"""llama-coder.nvim engine: a pynvim remote plugin.

The pure core (``llama_coder.core``) and the backends never import pynvim; only the
plugin class does, and it is exported here when pynvim is installed.
"""

try:
    import pynvim  # noqa: F401
except ImportError:  # the pure core and the backends stay importable without it
    __all__: list[str] = []
else:
    from llama_coder.plugin import LlamaCoderPlugin

    __all__ = ["LlamaCoderPlugin"]
