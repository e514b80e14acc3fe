"""The shape world's training and evaluation pictures and captions, for scripts/ and tests/ (not shipped).

Built on the sample pictures of `viewfinder.images.synthetic` (what `viewfinder sample` writes):
`captions` (captions in four languages, partial ones for training), `scenes` (chosen scenes for tests),
`varied` (the training renderer with broad variation) and `heldout` (an independent renderer for evaluation).
Importable with `worlds/` on the path: pytest adds it (pyproject.toml) and the scripts add it themselves.
"""
