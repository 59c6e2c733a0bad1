"""DSRS: the Dynamic Social Registry System."""

__version__ = "0.1.0"
