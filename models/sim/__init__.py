"""The simulated flash sale: market, shoppers, catalog, ground truth, evaluation and report plots."""
