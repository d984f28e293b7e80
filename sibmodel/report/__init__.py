"""Presenting results: figures, the workflows' charts, terminal and Markdown tables, the HTML report."""
