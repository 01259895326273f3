# Shared by the package test scripts: run(<command> ...) fails the script with the command's
# output when it exits non-zero; LAST_OUTPUT holds its stdout.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

# Configure flags for projects built against the installed package: no optimization (the
# tests check that they build, link and run, not how fast), ccache when there is one.
set(PACKAGE_CONFIGURE_FLAGS -G Ninja -DCMAKE_PREFIX_PATH=${PREFIX} -DCMAKE_BUILD_TYPE=)
# The Sluice build's own compiler and linker flags (a sanitizer build's -fsanitize=...).
if(PACKAGE_CXX_FLAGS)
  list(APPEND PACKAGE_CONFIGURE_FLAGS "-DCMAKE_CXX_FLAGS=${PACKAGE_CXX_FLAGS}")
endif()
if(PACKAGE_LINKER_FLAGS)
  list(APPEND PACKAGE_CONFIGURE_FLAGS "-DCMAKE_EXE_LINKER_FLAGS=${PACKAGE_LINKER_FLAGS}")
endif()
find_program(PACKAGE_CCACHE ccache)
if(PACKAGE_CCACHE)
  list(APPEND PACKAGE_CONFIGURE_FLAGS -DCMAKE_CXX_COMPILER_LAUNCHER=${PACKAGE_CCACHE})
endif()
