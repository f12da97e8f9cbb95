"""Language table: names, Neovim filetypes, file names, comment and string syntax.

Used for the prompt's file header (comment syntax), and by the lexer that keeps
brackets inside strings and comments out of the stopper's block stack.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """One language as the prompt builder and the lexer see it."""

    name: str
    filetypes: tuple[str, ...]
    extensions: tuple[str, ...] = ()
    filenames: tuple[str, ...] = ()
    line_comment: str | None = None
    block_comment: tuple[str, str] | None = None
    quotes: str = "\"'"
    triple_quotes: bool = False
    escape: str | None = "\\"

    def comment(self, text: str) -> str | None:
        """``text`` as a one-line comment, or None when the language has no comments."""
        if self.line_comment:
            return f"{self.line_comment} {text}"
        if self.block_comment:
            start, end = self.block_comment
            return f"{start} {text} {end}"
        return None


C_BLOCK = ("/*", "*/")
XML_BLOCK = ("<!--", "-->")


def _lang(
    name: str,
    filetypes: Iterable[str],
    extensions: Iterable[str] = (),
    filenames: Iterable[str] = (),
    line: str | None = None,
    block: tuple[str, str] | None = None,
    quotes: str = "\"'",
    triple: bool = False,
    escape: str | None = "\\",
) -> Language:
    return Language(
        name=name,
        filetypes=tuple(filetypes),
        extensions=tuple(extensions),
        filenames=tuple(filenames),
        line_comment=line,
        block_comment=block,
        quotes=quotes,
        triple_quotes=triple,
        escape=escape,
    )


LANGUAGES: tuple[Language, ...] = (
    _lang("Python", ["python"], [".py", ".pyw", ".pyi"], ["SConstruct"], "#", None, "\"'", True),
    _lang("JavaScript", ["javascript"], [".js", ".mjs", ".cjs"], [], "//", C_BLOCK, "\"'`"),
    _lang("JavaScript React", ["javascriptreact"], [".jsx"], [], "//", C_BLOCK, "\"'`"),
    _lang("TypeScript", ["typescript"], [".ts", ".mts", ".cts"], [], "//", C_BLOCK, "\"'`"),
    _lang("TypeScript React", ["typescriptreact"], [".tsx"], [], "//", C_BLOCK, "\"'`"),
    _lang("C", ["c"], [".c", ".h"], [], "//", C_BLOCK),
    _lang("C++", ["cpp"], [".cpp", ".cc", ".cxx", ".hpp", ".hh", ".hxx", ".ino"], [], "//",
          C_BLOCK),
    _lang("C#", ["cs"], [".cs", ".csx"], [], "//", C_BLOCK),
    _lang("Objective-C", ["objc"], [".m"], [], "//", C_BLOCK),
    _lang("Objective-C++", ["objcpp"], [".mm"], [], "//", C_BLOCK),
    _lang("Java", ["java"], [".java"], [], "//", C_BLOCK),
    _lang("Kotlin", ["kotlin"], [".kt", ".kts"], [], "//", C_BLOCK, "\"'", True),
    _lang("Scala", ["scala"], [".scala", ".sc"], [], "//", C_BLOCK, "\"'", True),
    _lang("Groovy", ["groovy"], [".groovy", ".gradle"], [], "//", C_BLOCK, "\"'", True),
    _lang("Go", ["go"], [".go"], [], "//", C_BLOCK, "\"'`"),
    _lang("Rust", ["rust"], [".rs"], [], "//", C_BLOCK, '"'),
    _lang("Swift", ["swift"], [".swift"], [], "//", C_BLOCK, '"', True),
    _lang("Zig", ["zig"], [".zig"], [], "//", None),
    _lang("D", ["d"], [".d"], [], "//", C_BLOCK, "\"'`"),
    _lang("Dart", ["dart"], [".dart"], [], "//", C_BLOCK, "\"'", True),
    _lang("PHP", ["php"], [".php", ".phtml"], [], "//", C_BLOCK),
    _lang("Ruby", ["ruby"], [".rb", ".rake", ".gemspec"], ["Rakefile", "Gemfile"], "#", None),
    _lang("Perl", ["perl"], [".pl", ".pm", ".t"], [], "#", None),
    _lang("Lua", ["lua"], [".lua"], [], "--", ("--[[", "]]")),
    _lang("Vim script", ["vim"], [".vim"], [".vimrc", "_vimrc"], '"', None, "'", False, None),
    _lang("Shell", ["sh", "bash", "zsh"], [".sh", ".bash", ".zsh"],
          [".bashrc", ".zshrc", ".profile"], "#", None),
    _lang("Fish", ["fish"], [".fish"], [], "#", None),
    _lang("PowerShell", ["ps1"], [".ps1", ".psm1"], [], "#", ("<#", "#>"), "\"'", False, "`"),
    _lang("Batch", ["dosbatch"], [".bat", ".cmd"], [], "REM", None, '"', False, None),
    _lang("R", ["r"], [".r", ".R"], [], "#", None),
    _lang("Julia", ["julia"], [".jl"], [], "#", ("#=", "=#"), '"', True),
    _lang("MATLAB", ["matlab"], [], [], "%", ("%{", "%}"), "'\"", False, None),
    _lang("Octave", ["octave"], [], [], "%", ("%{", "%}"), "'\""),
    _lang("Haskell", ["haskell"], [".hs", ".lhs"], [], "--", ("{-", "-}"), '"'),
    _lang("Elm", ["elm"], [".elm"], [], "--", ("{-", "-}"), '"', True),
    _lang("OCaml", ["ocaml"], [".ml", ".mli"], [], None, ("(*", "*)"), '"'),
    _lang("F#", ["fsharp"], [".fs", ".fsi", ".fsx"], [], "//", ("(*", "*)"), '"', True),
    _lang("Elixir", ["elixir"], [".ex", ".exs"], [], "#", None, "\"'", True),
    _lang("Erlang", ["erlang"], [".erl", ".hrl"], [], "%", None, '"'),
    _lang("Clojure", ["clojure"], [".clj", ".cljs", ".cljc", ".edn"], [], ";;", None, '"'),
    _lang("Common Lisp", ["lisp"], [".lisp", ".cl", ".lsp"], [], ";;", ("#|", "|#"), '"'),
    _lang("Scheme", ["scheme"], [".scm", ".ss"], [], ";;", ("#|", "|#"), '"'),
    _lang("Racket", ["racket"], [".rkt"], [], ";;", ("#|", "|#"), '"'),
    _lang("Emacs Lisp", ["elisp"], [".el"], [], ";;", None, '"'),
    _lang("Nim", ["nim"], [".nim", ".nims"], [], "#", ("#[", "]#"), "\"'", True),
    _lang("Crystal", ["crystal"], [".cr"], [], "#", None),
    _lang("V", ["vlang"], [".v"], [], "//", C_BLOCK, "\"'`"),
    _lang("Verilog", ["verilog"], [".sv", ".svh", ".vh"], [], "//", C_BLOCK, '"'),
    _lang("VHDL", ["vhdl"], [".vhd", ".vhdl"], [], "--", None, '"'),
    _lang("Fortran", ["fortran"], [".f90", ".f95", ".f03", ".f", ".for"], [], "!", None),
    _lang("Pascal", ["pascal"], [".pas", ".pp"], [], "//", ("{", "}"), "'", False, None),
    _lang("Ada", ["ada"], [".adb", ".ads"], [], "--", None, '"', False, None),
    _lang("Solidity", ["solidity"], [".sol"], [], "//", C_BLOCK),
    _lang("SQL", ["sql"], [".sql"], [], "--", C_BLOCK, "'\"", False, None),
    _lang("GraphQL", ["graphql"], [".graphql", ".gql"], [], "#", None, '"', True),
    _lang("Protocol Buffers", ["proto"], [".proto"], [], "//", C_BLOCK),
    _lang("HTML", ["html"], [".html", ".htm", ".xhtml"], [], None, XML_BLOCK, "\"'", False, None),
    _lang("XML", ["xml"], [".xml", ".xsd", ".xsl", ".svg", ".plist"], [], None, XML_BLOCK,
          "\"'", False, None),
    _lang("Vue", ["vue"], [".vue"], [], None, XML_BLOCK, "\"'`"),
    _lang("Svelte", ["svelte"], [".svelte"], [], None, XML_BLOCK, "\"'`"),
    _lang("Astro", ["astro"], [".astro"], [], None, XML_BLOCK, "\"'`"),
    _lang("CSS", ["css"], [".css"], [], None, C_BLOCK),
    _lang("SCSS", ["scss"], [".scss"], [], "//", C_BLOCK),
    _lang("Sass", ["sass"], [".sass"], [], "//", C_BLOCK),
    _lang("Less", ["less"], [".less"], [], "//", C_BLOCK),
    _lang("Markdown", ["markdown"], [".md", ".markdown"], [], None, XML_BLOCK, "", False, None),
    _lang("reStructuredText", ["rst"], [".rst"], [], "..", None, "", False, None),
    _lang("LaTeX", ["tex", "plaintex"], [".tex", ".sty", ".cls"], [], "%", None, "", False, None),
    _lang("YAML", ["yaml"], [".yaml", ".yml"], [], "#", None),
    _lang("TOML", ["toml"], [".toml"], ["Cargo.lock"], "#", None, "\"'", True),
    _lang("INI", ["dosini", "ini", "confini"], [".ini", ".cfg", ".conf"], [], ";", None, '"',
          False, None),
    _lang("JSON", ["json", "jsonc", "json5"], [".json", ".jsonc", ".json5"], [], None, None, '"'),
    _lang("Makefile", ["make"], [".mk", ".mak"], ["Makefile", "makefile", "GNUmakefile"], "#",
          None, "", False, None),
    _lang("CMake", ["cmake"], [".cmake"], ["CMakeLists.txt"], "#", None, '"'),
    _lang("Dockerfile", ["dockerfile"], [".dockerfile"], ["Dockerfile", "Containerfile"], "#",
          None),
    _lang("Nix", ["nix"], [".nix"], [], "#", C_BLOCK, '"'),
    _lang("Terraform", ["terraform", "hcl"], [".tf", ".tfvars", ".hcl"], [], "#", C_BLOCK, '"'),
    _lang("Starlark", ["bzl", "starlark"], [".bzl", ".star"], ["BUILD", "BUILD.bazel",
          "WORKSPACE"], "#", None, "\"'", True),
    _lang("Meson", ["meson"], [], ["meson.build"], "#", None, "'", True),
    _lang("Just", ["just"], [".just"], ["justfile", "Justfile"], "#", None),
    _lang("Assembly", ["asm", "nasm"], [".asm", ".s", ".S"], [], ";", None),
    _lang("GLSL", ["glsl"], [".glsl", ".vert", ".frag"], [], "//", C_BLOCK, '"'),
    _lang("WGSL", ["wgsl"], [".wgsl"], [], "//", C_BLOCK, '"'),
    _lang("CUDA", ["cuda"], [".cu", ".cuh"], [], "//", C_BLOCK),
    _lang("Gleam", ["gleam"], [".gleam"], [], "//", None, '"'),
    _lang("Odin", ["odin"], [".odin"], [], "//", C_BLOCK, "\"'`"),
    _lang("Typst", ["typst"], [".typ"], [], "//", C_BLOCK, '"'),
)

_BY_FILETYPE: dict[str, Language] = {ft: lang for lang in LANGUAGES for ft in lang.filetypes}
_BY_FILENAME: dict[str, Language] = {fn: lang for lang in LANGUAGES for fn in lang.filenames}
_BY_EXTENSION: dict[str, Language] = {}
for _language in LANGUAGES:
    for _ext in _language.extensions:
        # Case-sensitive first (.R vs .r map alike; .S is assembly), then lower-case.
        _BY_EXTENSION.setdefault(_ext, _language)
        _BY_EXTENSION.setdefault(_ext.lower(), _language)


def detect_language(filetype: str | None, path: str | None) -> Language | None:
    """The buffer's language: its Neovim filetype first, then the file name, then extension.

    A compound filetype such as ``javascript.jsx`` is looked up part by part.
    """
    if filetype:
        for part in filetype.split("."):
            found = _BY_FILETYPE.get(part)
            if found:
                return found
    if not path:
        return None
    base = os.path.basename(path)
    if base in _BY_FILENAME:
        return _BY_FILENAME[base]
    if base.startswith("Dockerfile.") or base.endswith(".Dockerfile"):
        return _BY_FILENAME["Dockerfile"]
    _, ext = os.path.splitext(base)
    if not ext:
        return None
    return _BY_EXTENSION.get(ext) or _BY_EXTENSION.get(ext.lower())
