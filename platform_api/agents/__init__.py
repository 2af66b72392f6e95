"""The MTConnect agents a shop's machines report through, and how polling each one stands."""
