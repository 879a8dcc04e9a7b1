"""`python -m dpo_tui` runs the CLI."""

from dpo_tui.cli import main

main()
