#pragma once
// One knob for every parallel loop (minigrad's own thread pool, minigrad/kernels/thread_pool.h).
// Work is split in fixed chunks, so results do not depend on the thread count.

#include <minigrad/kernels/float_env.h>
#include <minigrad/kernels/thread_pool.h>

namespace minigrad {

// parallel_for(n, grain, body): body(begin, end) over [0, n) in chunks of `grain`, on the pool.
using kernels::parallel_for;
// parallel_tasks(tasks, task): task(i) for every i < tasks, on the pool.
using kernels::parallel_tasks;

// Defaults to $MINIGRAD_THREADS when set, else the number of CPUs this process may use.
void set_num_threads(int threads);
int get_num_threads();

// Whether float32 ops flush denormals to zero (FTZ and DAZ; see kernels/float_env.h), as
// torch.set_flush_denormal. On by default; $MINIGRAD_FLUSH_DENORMAL=0 turns it off. float64 ops
// never flush. Returns false where the CPU cannot flush.
using kernels::flush_denormal;
using kernels::set_flush_denormal;

}  // namespace minigrad
