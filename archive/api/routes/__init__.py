"""Route handlers, one module per area; each exports ``routes(deps)`` -> handlers bound to deps."""
