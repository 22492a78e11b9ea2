# tastegraph — thin Makefile over CMake. Targets:
#   make            build (Release) into build/
#   make test       build and run the whole doctest suite
#   make asan       build with ASan+UBSan into build-asan/ and run the suite
#   make bench      GEMM benchmark vs OpenBLAS (see tools/bench)
#   make bench-bert BERT encoder vs ONNX Runtime and PyTorch (needs make weights)
#   make demo       the main job (see README)
#   make weights    fetch real BERT weights into weights/
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)
BUILD ?= build

.PHONY: all build test asan bench demo weights bench-bert clean

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	./$(BUILD)/tg_tests $(TEST_ARGS)

asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTG_SANITIZE=ON -DTG_CUDA=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build-asan/tg_tests $(TEST_ARGS)

bench: build
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ./$(BUILD)/bench_gemm

weights:
	tools/fetch_weights.sh weights

# BERT encoder benchmark: ours vs ONNX Runtime vs PyTorch, 2 threads each (needs `make weights`).
bench-bert: build
	python3 tools/bench/bench_bert.py --build $(BUILD)

# The main job (README's first command): synthetic shop log -> interest graph -> LightGCN, PureSVD and
# popularity -> comparison table and recommendations in demo_out/. `make demo DATA=<dir or file>` runs it
# on real data (a LightGCN split dir, a Taobao UserBehavior CSV or a directory holding one); see tools/demo.sh.
DATA ?=
demo: build
	BUILD=$(BUILD) DATA=$(DATA) tools/demo.sh

clean:
	rm -rf build build-asan
