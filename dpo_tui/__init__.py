"""dpo-tui: build high-quality DPO preference datasets offline, from the terminal."""

__version__ = "0.1.0"
