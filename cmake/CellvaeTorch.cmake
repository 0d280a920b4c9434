# Finds LibTorch and defines the INTERFACE target `cellvae_torch`.
#
# - With Torch_DIR set (any LibTorch: newer releases, CUDA builds) its TorchConfig.cmake is used.
# - Otherwise Debian's libtorch-dev layout is searched directly: headers in /usr/include and
#   /usr/include/torch/csrc/api/include, libraries torch, torch_cpu, c10 in the library path.
#   This avoids depending on Debian's Caffe2 config chain (gflags, glog, protobuf targets).
add_library(cellvae_torch INTERFACE)
if(Torch_DIR)
  find_package(Torch REQUIRED CONFIG)
  target_link_libraries(cellvae_torch INTERFACE ${TORCH_LIBRARIES})
  target_include_directories(cellvae_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  target_compile_options(cellvae_torch INTERFACE ${TORCH_CXX_FLAGS})
  set(CELLVAE_TORCH_ORIGIN "Torch_DIR=${Torch_DIR}")
else()
  find_path(CELLVAE_TORCH_API_INCLUDE torch/torch.h
            PATHS /usr/include/torch/csrc/api/include
            PATH_SUFFIXES torch/csrc/api/include)
  find_path(CELLVAE_TORCH_INCLUDE ATen/ATen.h PATHS /usr/include)
  find_library(CELLVAE_TORCH_LIB torch)
  find_library(CELLVAE_TORCH_CPU_LIB torch_cpu)
  find_library(CELLVAE_C10_LIB c10)
  if(NOT CELLVAE_TORCH_API_INCLUDE OR NOT CELLVAE_TORCH_INCLUDE OR NOT CELLVAE_TORCH_LIB
     OR NOT CELLVAE_TORCH_CPU_LIB OR NOT CELLVAE_C10_LIB)
    message(FATAL_ERROR
      "LibTorch not found. Install Debian's libtorch-dev (scripts/install-deps.sh does), "
      "or pass -DTorch_DIR=/path/to/libtorch/share/cmake/Torch for another LibTorch build.")
  endif()
  target_include_directories(cellvae_torch SYSTEM INTERFACE
    ${CELLVAE_TORCH_INCLUDE} ${CELLVAE_TORCH_API_INCLUDE})
  target_link_libraries(cellvae_torch INTERFACE
    ${CELLVAE_TORCH_LIB} ${CELLVAE_TORCH_CPU_LIB} ${CELLVAE_C10_LIB})
  set(CELLVAE_TORCH_ORIGIN "${CELLVAE_TORCH_LIB}")
endif()
message(STATUS "cellvae: LibTorch from ${CELLVAE_TORCH_ORIGIN}")
