"""Backprop Lab's HTTP service."""
