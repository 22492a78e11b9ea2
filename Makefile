# tastegraph — thin Makefile over CMake. Targets:
#   make            build (Release) into build/
#   make test       build and run the whole doctest suite
#   make asan       build with ASan+UBSan into build-asan/ and run the suite
#   make bench      GEMM benchmark vs OpenBLAS (see tools/bench)
#   make bench-bert BERT encoder vs ONNX Runtime and PyTorch (needs make weights; ROUNDS=3: median of 3 rounds)
#   make bench-graph LightGCN epoch / eval / PureSVD on Gowalla vs PyTorch and scipy
#   make bench-train BERT fine-tuning step (MiniLM-L6, 32 x 128) vs PyTorch (needs make weights)
#   make demo       the main job (see README)
#   make weights    fetch real BERT weights into weights/
#   make fuzz       libFuzzer targets for the file-format readers (not part of CI; see below)
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)
BUILD ?= build
ROUNDS ?= 1

.PHONY: all build test asan bench demo weights bench-bert bench-graph bench-train clean

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
	python3 tools/bench/bench_bert.py --build $(BUILD) --rounds $(ROUNDS)

# BERT training step benchmark: ours vs PyTorch, same batches, 2 threads each (needs `make weights` and ../shared).
# BENCH_ARGS="--bf16 --repeat 3" adds the bf16-GEMM pair (ours vs torch.autocast) and interleaved repeats.
bench-train: build
	python3 tools/bench/bench_train.py --build $(BUILD) $(BENCH_ARGS)

# Graph learning benchmark: our LightGCN epoch, eval and PureSVD vs PyTorch / scipy (needs ../shared/data).
bench-graph: build
	./$(BUILD)/bench_graph

# Fuzzing (tools/fuzz): builds fuzz_safetensors, fuzz_json, fuzz_csv and fuzz_npy with clang++ and
# -fsanitize=fuzzer,address,undefined into $(FUZZ_BUILD)/ and runs each for FUZZ_SECONDS (one core each,
# one after the other); the corpora grow in $(FUZZ_BUILD)/corpus_<name>, crashes land in $(FUZZ_BUILD)/.
# Needs clang and libFuzzer; on Debian: apt-get install -y clang-14 libclang-rt-14-dev. Not run by CI.
FUZZ_SECONDS ?= 60
FUZZ_CXX ?= clang++
FUZZ_BUILD ?= build-fuzz
FUZZ_SRCS = src/tensor/json.cpp src/tensor/io.cpp src/tensor/dtype.cpp src/tensor/safetensors.cpp src/tensor/textio.cpp src/tensor/npy.cpp
.PHONY: fuzz
fuzz:
	@mkdir -p $(FUZZ_BUILD)
	@for t in safetensors json csv npy; do \
	  echo "building $(FUZZ_BUILD)/fuzz_$$t"; \
	  $(FUZZ_CXX) -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -Isrc tools/fuzz/fuzz_$$t.cpp $(FUZZ_SRCS) -o $(FUZZ_BUILD)/fuzz_$$t || exit 1; \
	done
	@for t in safetensors json csv npy; do \
	  mkdir -p $(FUZZ_BUILD)/corpus_$$t; \
	  echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
	  ./$(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -dict=tools/fuzz/json.dict \
	    -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/corpus_$$t tools/fuzz/seeds/$$t || exit 1; \
	done

# The main job (README's first command): synthetic shop log -> interest graph -> LightGCN, PureSVD and
# popularity -> comparison table and recommendations in demo_out/. `make demo DATA=<dir or file>` runs it
# on real data (a LightGCN split dir, a Taobao UserBehavior CSV or a directory holding one); see tools/demo.sh.
DATA ?=
demo: build
	BUILD=$(BUILD) DATA=$(DATA) tools/demo.sh

clean:
	rm -rf build build-asan
