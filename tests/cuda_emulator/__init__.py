"""A CPU emulator of the CUDA execution model and a CuPy stand-in that launches through it."""
