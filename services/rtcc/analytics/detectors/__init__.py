"""Detector implementations; each loads its model from an installed package, offline."""
