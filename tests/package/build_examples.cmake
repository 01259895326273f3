# Builds examples/ (wordcount, sensor pipeline and simulator) the way an application is built:
# from a copy outside the Sluice tree, against the installed package (the package_install
# fixture) with find_package(Sluice) only, so no internal header or target can be reached.
# Then runs each program's --help.
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
file(REMOVE_RECURSE ${WORK_DIR})
file(COPY ${EXAMPLES_DIR} DESTINATION ${WORK_DIR}/src)
run(${CMAKE_COMMAND} -S ${WORK_DIR}/src/examples -B ${WORK_DIR}/build ${PACKAGE_CONFIGURE_FLAGS})
# Two jobs at most: the machine's cores are shared with the other tests.
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build --parallel 2)
foreach(program wordcount sensor-pipeline sensor-simulator)
  if(NOT EXISTS ${WORK_DIR}/build/bin/${program})
    message(FATAL_ERROR "examples/ built no ${program}")
  endif()
endforeach()
foreach(program sensor-pipeline sensor-simulator)
  run(${WORK_DIR}/build/bin/${program} --help)
  if(NOT LAST_OUTPUT MATCHES "usage: ${program}")
    message(FATAL_ERROR "${program} --help printed: ${LAST_OUTPUT}")
  endif()
endforeach()
message(STATUS "examples/ built against ${PREFIX}")
