"""Training loops: the autoencoder (`autoencoder.py`) and the diffusion UNet (`diffusion.py`)."""
