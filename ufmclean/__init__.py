"""ufmclean."""
