# Builds tests/package/consumer against the installed Sluice (the package_install fixture) with
# find_package(Sluice) and runs it.
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
file(REMOVE_RECURSE ${WORK_DIR})
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build ${PACKAGE_CONFIGURE_FLAGS})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/sluice_package_consumer)
if(NOT LAST_OUTPUT MATCHES "sluice package ok")
  message(FATAL_ERROR "consumer printed: ${LAST_OUTPUT}")
endif()
message(STATUS "${LAST_OUTPUT}")
