"""Answering queries: the query algebra, the search engine over an index, and ranking."""
