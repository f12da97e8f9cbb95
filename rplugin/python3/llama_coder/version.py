"""The engine's version, reported by :checkhealth and the command-line entry point."""

VERSION = "0.1.0"
