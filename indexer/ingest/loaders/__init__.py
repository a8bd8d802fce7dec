"""Readers that turn knowledge files into `SourceDocument`s; `files.load_tree` dispatches."""

from indexer.ingest.loaders.files import load_tree

__all__ = ["load_tree"]
