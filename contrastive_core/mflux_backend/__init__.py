"""Capture of concept attention scores from FLUX models run by mflux."""
