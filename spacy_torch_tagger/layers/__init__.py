"""The thinc layer between Docs and the torch network: the registered architectures,
the thinc model and its shim, the network's input (features, word pieces) and output,
and how the network is saved (storage/)."""
