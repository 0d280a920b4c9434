# The two commands of the README's quick start, and their helpers.
#   make demo   install what is missing, build, run the main job on the built-in simulated data
#   make test   install what is missing, build, run the whole test suite
BUILD ?= build
JOBS ?= $(shell nproc)
BUILD_TYPE ?= Release

.PHONY: all deps configure build demo test bench clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) > $(BUILD).configure.log 2>&1 \
	  || { cat $(BUILD).configure.log; exit 1; }

build: configure
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	scripts/demo.sh $(BUILD)/cellvae out/demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

bench:
	@scripts/install-deps.sh --bench
	bench/run.sh

clean:
	rm -rf $(BUILD) $(BUILD).configure.log out
