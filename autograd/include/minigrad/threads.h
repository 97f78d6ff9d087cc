#pragma once
// One knob for every parallel loop (OpenMP underneath). Work is split in fixed chunks, so results
// do not depend on the thread count.

namespace minigrad {

// Defaults to $MINIGRAD_THREADS when set, else OpenMP's default (the number of cores).
void set_num_threads(int threads);
int get_num_threads();

}  // namespace minigrad
