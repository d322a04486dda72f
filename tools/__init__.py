"""Build tools: scripts that regenerate committed files (`make openapi`). Never deployed."""
