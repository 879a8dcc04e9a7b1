"""Views of reports: the terminal (Rich) and a self-contained HTML page."""
