"""OutSource API: a sample FastAPI backend for outsource.deploy."""
