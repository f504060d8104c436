# Periscope: `make run` starts the viewer, `make test` runs every test.
# Both work on a fresh machine with Rust and Python 3 installed.

VENV    := .venv
PY      := $(VENV)/bin/python
CARGO   ?= cargo

.PHONY: run test test-rust test-python web lint venv clean wheel wheel-dev bench bench-gpu fuzz

run: web
	$(CARGO) run --release --bin periscope

# The browser view (core/web, docs/web.md): the viewer compiled to wasm32,
# bound by wasm-bindgen (the CLI at the version Cargo.lock pins for the
# wasm-bindgen crate, installed when missing), shrunk by wasm-opt when it is
# installed, and gzipped. The periscope binary embeds core/web/dist when it is
# built (core/viewer/build.rs) and serves it from its own port.
WEB_DIST := core/web/dist
WASM_OUT  = $${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/web/periscope_web.wasm
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' Cargo.lock)
web:
	rustup target add wasm32-unknown-unknown
	@if [ "$$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$(WASM_BINDGEN_VERSION)" ]; then \
		echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (the version Cargo.lock pins)"; \
		$(CARGO) install --quiet wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); fi
	$(CARGO) build -p periscope-web --target wasm32-unknown-unknown --profile web
	rm -rf $(WEB_DIST).new && mkdir -p $(WEB_DIST).new
	wasm-bindgen --target web --no-typescript --out-dir $(WEB_DIST).new $(WASM_OUT)
	@if command -v wasm-opt >/dev/null; then \
		wasm-opt -Os --all-features -o $(WEB_DIST).new/opt.wasm $(WEB_DIST).new/periscope_web_bg.wasm \
			&& mv $(WEB_DIST).new/opt.wasm $(WEB_DIST).new/periscope_web_bg.wasm \
			|| { rm -f $(WEB_DIST).new/opt.wasm; echo "wasm-opt failed: the bundle is left as wasm-bindgen wrote it"; }; \
	else echo "wasm-opt not found: the bundle is not shrunk further (apt install binaryen)"; fi
	cp core/web/page/* $(WEB_DIST).new/
	for f in $(WEB_DIST).new/*; do gzip -9 -k -n "$$f"; done
	rm -rf $(WEB_DIST) && mv $(WEB_DIST).new $(WEB_DIST)
	@ls -l $(WEB_DIST)

# A venv with the Python client (editable) and pytest; rebuilt when the client's metadata changes.
$(VENV)/.installed: clients/python/pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e "clients/python[test]"
	touch $@

# The unmodified aitviewer remote client, for the compatibility tests. aitviewer
# 1.14 pins numpy<2; its client hangs on close with websockets >= 14, so the
# versions its users run are installed (only aitviewer.remote is imported).
AITVENV := .venv-aitviewer
$(AITVENV)/.installed:
	python3 -m venv $(AITVENV)
	$(AITVENV)/bin/python -m pip install --quiet "numpy<2" "websockets<14"
	$(AITVENV)/bin/python -m pip install --quiet --no-deps aitviewer==1.14.2
	touch $@

venv: $(VENV)/.installed $(AITVENV)/.installed

# The web bundle first: the periscope binary the tests run embeds it, and the
# browser tests (clients/python/tests/test_browser.py) load it in chromium.
test: web test-rust test-python

# The venv first: a panel test drives a real Python client (PERISCOPE_REQUIRE_PYTHON
# makes it fail instead of skipping when .venv is missing).
test-rust: $(VENV)/.installed
	$(CARGO) build --workspace
	PERISCOPE_REQUIRE_PYTHON=1 $(CARGO) test --workspace

test-python: venv
	$(CARGO) build --workspace
	$(MAKE) wheel-dev
	PERISCOPE_REQUIRE_AITVIEWER=1 PERISCOPE_REQUIRE_WHEEL=1 $(PY) -m pytest -q clients/python/tests

# The `periscope` wheel: the release viewer binary with the Python client
# (maturin, pyproject.toml at the top). `pip install dist/periscope-*.whl`
# needs no Rust. The tests build a debug-profile wheel (it reuses target/debug).
wheel: $(VENV)/.installed web
	rm -f dist/periscope-*.whl
	$(PY) -m maturin build --release -o dist

wheel-dev: $(VENV)/.installed
	rm -f dist/periscope-*.whl
	$(PY) -m maturin build --profile dev -o dist

lint: $(VENV)/.installed
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(PY) -m mypy --config-file clients/python/pyproject.toml clients/python/periscope

# The message fuzzer, long: random messages of every type against the real
# viewer (core/viewer/tests/fuzz_messages.rs; `make test` runs 3000 of them).
# FUZZ_MESSAGES and FUZZ_SEED (to repeat a failure) are passed through.
FUZZ_MESSAGES ?= 100000
fuzz:
	$(CARGO) build --workspace
	PERISCOPE_FUZZ_MESSAGES=$(FUZZ_MESSAGES) $(if $(FUZZ_SEED),PERISCOPE_FUZZ_SEED=$(FUZZ_SEED)) \
		$(CARGO) test --workspace --test fuzz_messages -- --nocapture

# The benchmark program (core/bench, docs/benchmarks.md) against the release
# viewer on loopback: every row, the view stream (rows 10-13, about a minute
# on 2 cores) included. BENCH_ARGS is passed through (e.g. --quick, --views, --json).
bench:
	$(CARGO) build --release --workspace
	$${CARGO_TARGET_DIR:-target}/release/periscope-bench $(BENCH_ARGS)

# The render benchmark on whatever adapter wgpu finds: run it on a machine with
# a real GPU to record absolute figures in docs/benchmarks.md (on lavapipe only
# the ratios to the empty scene mean anything).
bench-gpu:
	$(CARGO) build --release --workspace
	$(CARGO) bench -p periscope-render --bench render -- --size 1920x1080 --frames 60

clean:
	rm -rf $(VENV) $(AITVENV) dist
	$(CARGO) clean
