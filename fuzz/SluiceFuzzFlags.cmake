# Compiler flags of a fuzzing build (-DSLUICE_FUZZ=ON, `make fuzz`): every Sluice source the
# targets link is instrumented for libFuzzer's coverage and checked by ASan and UBSan; any
# UBSan report aborts the run (-fno-sanitize-recover), so the fuzzer records it as a crash.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "SLUICE_FUZZ needs clang (libFuzzer): configure with "
    "-DCMAKE_CXX_COMPILER=clang++-14 (make fuzz does)")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
  -fno-omit-frame-pointer)
add_link_options(-fsanitize=address,undefined)
