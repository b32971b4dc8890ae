"""Helpers shipped inside each function's zip; standard library only."""
