# Included by the layers that add packages on top of the common layer (exchange, encryption,
# billing). layers/constraints.txt pins every transitive package, so what two layers both need is
# the same version in each; the copies the common layer already ships are then removed from the
# add-on layer. sam build runs each layer's Makefile (BuildMethod: makefile); ARTIFACTS_DIR is the
# layer root.
PYTHON ?= python3.12
PIP_TARGET := --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --implementation cp \
	--python-version 3.12 --only-binary=:all:
COMMON := $(ARTIFACTS_DIR)/.common-layer

# The layer's requirements, minus what the common layer ships.
define install_add_on_layer
	$(PYTHON) -m pip install --quiet --no-compile -r "$(LAYER_DIR)/requirements.txt" \
		-c "$(LAYER_DIR)/../constraints.txt" --target "$(ARTIFACTS_DIR)/python" $(PIP_TARGET)
	$(PYTHON) -m pip install --quiet --no-compile -r "$(LAYER_DIR)/../common/requirements.txt" \
		-c "$(LAYER_DIR)/../constraints.txt" --target "$(COMMON)" $(PIP_TARGET)
	cd "$(COMMON)" && for entry in *; do rm -rf "$(ARTIFACTS_DIR)/python/$$entry"; done
	rm -rf "$(COMMON)" "$(ARTIFACTS_DIR)/python/bin"
endef

# Lambda's /opt is read-only: ship bytecode. unchecked-hash survives zip's mtime rounding.
define compile_layer
	$(PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)/python"
endef
