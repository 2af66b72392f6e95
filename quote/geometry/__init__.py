"""Reading part files and measuring them: one module per concern."""
