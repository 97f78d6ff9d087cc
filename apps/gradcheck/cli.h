#pragma once
// The `gradcheck` command line over a registry: the built-in one, or a program's own that adds its
// ops, modules and checkpoint formats to builtin_registry():
//
//   namespace gt = minigrad::gradcheck_tool;
//   int main(int argc, char** argv) {
//     gt::Registry registry = gt::builtin_registry();
//     registry.add(gt::OpEntry{.name = "swish", .cases = {...}});
//     return gt::main(argc, argv, registry);
//   }
#include "registry.h"

namespace minigrad::gradcheck_tool {

// Exit status: 0 when every check passed, 1 when one failed, 2 on a usage or input error.
int main(int argc, char** argv, const Registry& registry);

}  // namespace minigrad::gradcheck_tool
