"""HTTP only, one module per resource; never SQL."""
