# Installs the built Sluice into a scratch prefix, builds tests/package/consumer against it
# with find_package(Sluice), runs it, and checks that no internal header was installed.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} --install ${SLUICE_BINARY_DIR} --prefix ${prefix})

file(GLOB_RECURSE internal_headers ${prefix}/include/*_internal.h)
if(internal_headers OR EXISTS ${prefix}/include/runtime/kafka)
  message(FATAL_ERROR "internal headers were installed: ${internal_headers}")
endif()
if(NOT EXISTS ${prefix}/include/sluice/sluice.h)
  message(FATAL_ERROR "sluice/sluice.h was not installed under ${prefix}/include")
endif()

run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build -G Ninja
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/sluice_package_consumer)
if(NOT LAST_OUTPUT MATCHES "sluice package ok")
  message(FATAL_ERROR "consumer printed: ${LAST_OUTPUT}")
endif()
message(STATUS "${LAST_OUTPUT}")
