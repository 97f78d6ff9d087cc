#pragma once
// The `gradcheck` command line over a registry (the built-in one, or a test's with extra ops).
#include "registry.h"

namespace gradcheck_tool {

// Exit status: 0 when every check passed, 1 when one failed, 2 on a usage or input error.
int run_cli(int argc, char** argv, const Registry& registry);

}  // namespace gradcheck_tool
