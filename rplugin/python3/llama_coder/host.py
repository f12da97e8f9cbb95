"""The engine process the Lua shim starts: ``python -m llama_coder.host --log FILE``.

It attaches to Neovim over stdio and hosts :class:`LlamaCoderPlugin`, dispatching
each notification to the handler its pynvim decorator names. Running as its own
process means no ``:UpdateRemotePlugins``, and a crash is restarted by the shim.
The engine takes notifications only: a request (which would make Neovim wait) gets
an error answer at once.
"""

# No ``from __future__ import annotations`` here: this file must parse on Python 3.6+ so
# that an older interpreter reaches the version check below instead of a SyntaxError.
import argparse
import gc
import sys
from typing import Any

TOO_OLD_EXIT = 4  # the Lua side names the version and what to set instead
if sys.version_info < (3, 10):  # noqa: UP036 (before any import that needs 3.10)
    sys.stderr.write("llama_coder: Python {} is too old: the engine needs 3.10 or newer\n".format(
        ".".join(str(part) for part in sys.version_info[:3])))
    sys.exit(TOO_OLD_EXIT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llama_coder.host")
    parser.add_argument("--log", default="")
    parser.add_argument("--level", default="info")
    args = parser.parse_args(argv)

    from llama_coder.log import LOGGER, setup_logging

    setup_logging(args.log, args.level)
    try:
        import pynvim
        from pynvim.msgpack_rpc.session import ErrorResponse

        from llama_coder.plugin import LlamaCoderPlugin, handlers
    except ImportError as exc:  # the shim reports this with the pip command that fixes it
        print(f"llama-coder: missing Python package: {exc.name}", file=sys.stderr)
        return 3

    nvim = pynvim.attach("stdio")
    plugin = LlamaCoderPlugin(nvim)
    table = handlers(plugin)
    # Everything loaded so far lives as long as the process: keep it out of the
    # collector's full passes, which would otherwise walk it in the middle of a request.
    gc.freeze()

    def on_request(name: str, _args: list[Any]) -> Any:
        LOGGER.warning("refused a request for %s: the engine takes notifications", name)
        raise ErrorResponse(f"llama-coder's engine takes notifications only, not {name}")

    def on_notification(name: str, args: list[Any]) -> None:
        handler = table.get(name)
        if handler is None:
            LOGGER.warning("unknown message %s", name)
            return
        handler(args)

    LOGGER.info("engine started (python %s)", sys.version.split()[0])
    nvim.run_loop(on_request, on_notification, err_cb=lambda msg: LOGGER.error("%s", msg))
    LOGGER.info("engine stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
