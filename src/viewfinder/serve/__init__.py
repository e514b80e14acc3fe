"""The HTTP service: the app factory, its routes by concern, live index swaps and the server."""
