"""The editor-free core of llama-coder: nothing here imports pynvim or does I/O."""
