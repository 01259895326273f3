# The README's getting-started program exactly as the README shows it: extracts its marked code
# blocks (main.cc, CMakeLists.txt), checks they are examples/wordcount/ byte for byte, and
# builds them against the installed package (the package_install fixture). The
# package_readme_wordcount test then runs the program against the test broker.
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
file(REMOVE_RECURSE ${WORK_DIR})
run(${CMAKE_COMMAND} -DDOC=${README} -DOUT_DIR=${WORK_DIR}/src
    -P ${CMAKE_CURRENT_LIST_DIR}/../support/extract_doc_blocks.cmake)
foreach(file main.cc CMakeLists.txt)
  set(shown_file ${WORK_DIR}/src/examples/wordcount/${file})
  if(NOT EXISTS ${shown_file})
    message(FATAL_ERROR "README.md has no block marked <!-- extract: examples/wordcount/${file} -->")
  endif()
  file(READ ${shown_file} shown)
  file(READ ${EXAMPLES_DIR}/wordcount/${file} actual)
  if(NOT shown STREQUAL actual)
    message(FATAL_ERROR "README.md shows a different examples/wordcount/${file} than the file")
  endif()
endforeach()
run(${CMAKE_COMMAND} -S ${WORK_DIR}/src/examples/wordcount -B ${WORK_DIR}/build
    ${PACKAGE_CONFIGURE_FLAGS})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
message(STATUS "built ${WORK_DIR}/build/wordcount from README.md")
