"""Where vectors and rows live: the SQLite catalog, the vector index, the index directory and its thumbnails."""
