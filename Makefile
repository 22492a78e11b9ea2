# tastegraph — thin Makefile over CMake. Targets:
#   make            build (Release) into build/
#   make test       build and run the whole doctest suite
#   make asan       build with ASan+UBSan into build-asan/ and run the suite
#   make bench      GEMM benchmark vs OpenBLAS (see tools/bench)
#   make demo       the main job (see README)
#   make weights    fetch real BERT weights into weights/
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)
BUILD ?= build

.PHONY: all build test asan bench demo weights clean

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

clean:
	rm -rf build build-asan
