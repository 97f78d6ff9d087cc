#pragma once
// The `gradcheck` command line over a registry: the built-in one, or a program's own that adds its
// ops, modules and checkpoint formats to builtin_registry():
//
//   int main(int argc, char** argv) {
//     gradcheck_tool::Registry registry = gradcheck_tool::builtin_registry();
//     registry.add(gradcheck_tool::OpEntry{.name = "swish", .cases = {...}});
//     return gradcheck_tool::main(argc, argv, registry);
//   }
#include "registry.h"

namespace gradcheck_tool {

// Exit status: 0 when every check passed, 1 when one failed, 2 on a usage or input error.
int main(int argc, char** argv, const Registry& registry);

}  // namespace gradcheck_tool
