"""The local cloud: template.yaml running on one machine, for `make dev` and the end-to-end tests.

Development only; never deployed.
"""
