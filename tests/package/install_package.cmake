# The package_install fixture: installs the built Sluice into PREFIX (a scratch directory) and
# checks that public headers are there and no internal header is.
include(${CMAKE_CURRENT_LIST_DIR}/common.cmake)
file(REMOVE_RECURSE ${PREFIX})
run(${CMAKE_COMMAND} --install ${SLUICE_BINARY_DIR} --prefix ${PREFIX})

file(GLOB_RECURSE internal_headers ${PREFIX}/include/*_internal.h)
if(internal_headers OR EXISTS ${PREFIX}/include/runtime/kafka)
  message(FATAL_ERROR "internal headers were installed: ${internal_headers}")
endif()
foreach(header sluice/sluice.h sluice/runtime/topic_admin.h)
  if(NOT EXISTS ${PREFIX}/include/${header})
    message(FATAL_ERROR "${header} was not installed under ${PREFIX}/include")
  endif()
endforeach()
