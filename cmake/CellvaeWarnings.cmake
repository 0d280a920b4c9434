# Warnings for our own targets only (LibTorch's headers are included as SYSTEM).
function(cellvae_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-unused-parameter
      -Wno-missing-field-initializers)  # options structs are partly initialised on purpose
  endif()
endfunction()
