# Builds and runs a consumer project (ctest, see tests/CMakeLists.txt):
#   MODE=install       installs the build tree BUILD_DIR into a prefix, builds find_package/ against
#                      it (and its gradcheck program), compiles main.cpp with pkg-config's flags,
#                      and packages BUILD_DIR with `cpack -G DEB`
#   MODE=subdirectory  builds subdirectory/, which adds SOURCE_DIR with add_subdirectory, and
#                      checks that the library alone looked for none of the apps' dependencies
# in WORK_DIR (emptied first); LAUNCHER is an optional compiler launcher (ccache).
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    list(JOIN ARGN " " command)
    message(FATAL_ERROR "failed (${status}): ${command}")
  endif()
endfunction()

set(here ${CMAKE_CURRENT_LIST_DIR})
file(REMOVE_RECURSE ${WORK_DIR})
set(configure_flags -DCMAKE_BUILD_TYPE=Release)
if(LAUNCHER)
  list(APPEND configure_flags -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()

if(MODE STREQUAL "install")
  set(prefix ${WORK_DIR}/prefix)
  run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
  run(${CMAKE_COMMAND} -S ${here}/find_package -B ${WORK_DIR}/consumer ${configure_flags}
      -DCMAKE_PREFIX_PATH=${prefix})
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer -j2)
  run(${WORK_DIR}/consumer/consumer)
  run(${WORK_DIR}/consumer/consumer_gradcheck --op softsign --module Linear)

  file(GLOB_RECURSE pc ${prefix}/*/minigrad.pc)
  get_filename_component(pc_dir "${pc}" DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} ${pc_dir})
  execute_process(COMMAND pkg-config --cflags --libs minigrad OUTPUT_VARIABLE flags
                  OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(c++ ${here}/main.cpp -O1 "-DMINIGRAD_CONSUMER=\"pkg-config\"" ${flags} -o ${WORK_DIR}/consumer_pc)
  run(${WORK_DIR}/consumer_pc)

  run(cpack -G DEB --config ${BUILD_DIR}/CPackConfig.cmake -B ${WORK_DIR}/package)
  file(GLOB deb ${WORK_DIR}/package/*.deb)
  execute_process(COMMAND dpkg-deb --contents ${deb} OUTPUT_VARIABLE contents COMMAND_ERROR_IS_FATAL ANY)
  foreach(file minigradConfig.cmake minigrad.pc minigrad/minigrad.h libminigrad_autograd.a)
    if(NOT contents MATCHES "${file}")
      message(FATAL_ERROR "${deb} lacks ${file}:\n${contents}")
    endif()
  endforeach()
elseif(MODE STREQUAL "subdirectory")
  run(${CMAKE_COMMAND} -S ${here}/subdirectory -B ${WORK_DIR} ${configure_flags} -DMINIGRAD_SOURCE_DIR=${SOURCE_DIR})
  file(READ ${WORK_DIR}/CMakeCache.txt cache)
  foreach(app_dependency CLI11_DIR tomlplusplus_DIR Catch2_DIR benchmark_DIR STB_INCLUDE_DIR)
    if(cache MATCHES "${app_dependency}")
      message(FATAL_ERROR "the library alone looked for an app's dependency: ${app_dependency}")
    endif()
  endforeach()
  run(${CMAKE_COMMAND} --build ${WORK_DIR} -j2)
  run(${WORK_DIR}/consumer)
else()
  message(FATAL_ERROR "MODE must be install or subdirectory, not '${MODE}'")
endif()
