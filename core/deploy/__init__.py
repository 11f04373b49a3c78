"""Putting a model to work: the HTTP server (``ptrun serve``) and large-file prediction (``ptrun predict``)."""
