"""What a run produces: the per-draw store, summary and run folder,
reading a saved run back, output folders sibmodel owns."""
