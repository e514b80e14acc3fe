"""Pixels: safe decoding of untrusted image files and bytes, thumbnails, and generated sample pictures."""
