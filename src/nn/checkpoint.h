// checkpoint.h — save and load dictionaries of named tensors as safetensors files.
//
// The file format and its validation belong to tensor/safetensors.h; this file maps Tensors to it:
//   save_checkpoint   writes atomically (temporary file, fsync, rename — a crash leaves the old file or
//                     the new one, never a torn one); non-contiguous tensors are made contiguous first.
//   load_checkpoint   reads every tensor into fresh, owned, 64-byte aligned memory (safe to train on).
//   load_into         copies a file's tensors into existing tensors (a Module's parameters), checking
//                     that names, dtypes and shapes match and that nothing is missing or left over.
// A damaged or truncated file is rejected by the safetensors reader with a message naming the file,
// the tensor and the reason.
// For read-only inference weights that should stay memory-mapped, use SafeTensorsFile directly with
// Tensor::from_blob (zero-copy; mind the dtype alignment of each tensor's offset).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace tg::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

void save_checkpoint(const std::string& path, const NamedTensors& tensors,
                     const std::vector<std::pair<std::string, std::string>>& metadata = {});
std::map<std::string, Tensor> load_checkpoint(const std::string& path);
// strict = true: every name in `into` must be in the file and vice versa.
void load_into(const std::string& path, const NamedTensors& into, bool strict = true);

}  // namespace tg::nn
