"""The two consoles every command prints to, and the --format choice they share."""

from enum import StrEnum

from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
if not out.is_terminal:
    out.width = 160
err = Console(stderr=True, highlight=False, soft_wrap=True)


class OutputFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
