"""How a network is saved: its weights as safetensors inside self-describing bytes,
its label counts, and the layouts of earlier versions read on load."""
