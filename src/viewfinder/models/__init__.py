"""Turning pixels and text into vectors: the Embedder interface, the model registry and the runtimes."""
