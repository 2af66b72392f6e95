"""Shops: the directory, history imports, training and the shop's pricing models."""
