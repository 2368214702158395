"""Model definitions: the Shapes autoencoder and the conditional UNet builder."""
