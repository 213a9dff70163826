"""The `torch_tagger` pipeline component: its factory, labels per target, loss,
probabilities, scoring and saving. Modules are imported where used (the entry
points name them), so importing one pulls in no other."""
