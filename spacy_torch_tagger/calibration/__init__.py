"""Calibrating a torch_tagger's probabilities: temperature scaling and the expected
calibration error (numpy only), and fitting the temperatures of a pipeline's component."""
