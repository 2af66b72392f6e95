"""Uploaded part files: content-addressed storage, analysis (features, DFM), ownership."""
