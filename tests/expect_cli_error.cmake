# Runs COMMAND with ARGS (a ;-list) and passes only when it exits non-zero and its stderr is one
# line matching PATTERN.
execute_process(COMMAND ${COMMAND} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "expected a failure, got exit status 0\nstdout: ${out}\nstderr: ${err}")
endif()
string(STRIP "${err}" err)
if(err MATCHES "\n")
  message(FATAL_ERROR "expected a one-line error, got:\n${err}")
endif()
string(FIND "${err}" "${PATTERN}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "expected an error containing '${PATTERN}', got: ${err}")
endif()
