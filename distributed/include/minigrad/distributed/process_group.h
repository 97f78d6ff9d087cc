#pragma once
// The processes of an MPI job as one group: rank, size and the collectives data-parallel training
// needs. Every wait is bounded: a rank that stops answering makes the others throw, naming it.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <string_view>

#include <minigrad/tensor.h>

namespace minigrad::distributed {

// What goes wrong between processes: a rank that does not respond, ranks that disagree, MPI errors.
struct DistributedError : Error {
  using Error::Error;
};

struct ProcessGroupOptions {
  // How long a collective may wait for the other ranks before the group finds the ranks that do
  // not respond and throws. The environment variable MINIGRAD_DIST_TIMEOUT (seconds) overrides it.
  double timeout_seconds = 300;
};

class ProcessGroup {
 public:
  // Joins the MPI job (MPI_Init_thread, funneled: only the thread that made the group calls MPI)
  // unless MPI is running already; a process started without mpirun is a group of one.
  explicit ProcessGroup(ProcessGroupOptions options = {});
  // Finalizes MPI if this group initialized it; after an error that left a collective unfinished
  // (or during stack unwinding) it aborts the job instead, so no rank waits on this one.
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  // Whether this process was started by mpirun or another MPI launcher (from its environment),
  // without initializing MPI: a program that only sometimes runs distributed asks this first.
  static bool launched_by_mpi();

  int rank() const { return rank_; }
  int size() const { return size_; }
  double timeout_seconds() const { return timeout_; }

  // In place, any dtype: every rank gets root's values. `what` names the collective in errors.
  void broadcast(Tensor& t, int root = 0, std::string_view what = "broadcast");
  void broadcast_bytes(void* data, int64_t bytes, int root, std::string_view what);
  // [size, t's shape...]: every rank's t, in rank order. Same shape and dtype on every rank.
  Tensor all_gather(const Tensor& t, std::string_view what = "all_gather");
  // In place, float32, float64 or int64: the sum over the ranks in a fixed order (see Request), so
  // every rank gets the same bits in every run.
  void all_reduce_sum(Tensor& t, std::string_view what = "all_reduce");
  // Throws on every rank, naming the ranks whose value differs from rank 0's.
  void check_same(uint64_t value, std::string_view what);
  // Ends the whole job now (MPI_Abort) with this exit code.
  [[noreturn]] void abort(int code);

  // A sum over the ranks in flight, for callers that overlap communication with work (data
  // parallel). A ring: the buffer is cut in `size` chunks; in size - 1 steps each chunk travels
  // around the ring, each rank adding its part, then in size - 1 more the sums travel on to every
  // rank. Each rank sends and receives 2 (size - 1) / size of the buffer. Chunk c is summed in the
  // fixed order c, c + 1, ... (mod size) and then copied, so every rank gets the same bits in every
  // run. Reusable: a Request keeps its scratch space, so a steady-state step allocates nothing.
  struct Request {
    std::string_view what;                                            // a literal, for errors
    int64_t index = 0;                                                // e.g. the gradient bucket
    int64_t sequence = 0;                                             // which collective of this group it is
    Tensor data = {};                                                 // summed in place
    Tensor scratch = {};                                              // the incoming chunk
    int step = 0;                                                     // of the 2 (size - 1); done at 2 (size - 1)
    MPI_Request transfers[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};  // send, receive
  };
  // Starts summing `data` (float32, float64 or int64) over the ranks, in place.
  void start_all_reduce_sum(Tensor data, Request& request);
  // Whether it finished; moves it on (it advances only inside test and wait).
  bool test(Request& request);
  // Waits until it finished, at most the timeout; then throws naming the ranks that do not respond.
  void wait(Request& request);

 private:
  void check(int code, std::string_view call, std::string_view what);
  void post_ring_step(Request& request);
  void answer_probes();
  // Polls done() until true; after the timeout, finds who is missing and throws.
  template <typename Done>
  void wait_until(Done&& done, const Request& request);
  void wait_for(MPI_Request& handle, const Request& request);
  [[noreturn]] void timed_out(const Request& request, double waited);

  MPI_Comm comm_ = MPI_COMM_NULL;     // the collectives
  MPI_Comm control_ = MPI_COMM_NULL;  // "are you alive?" probes while a collective hangs
  int rank_ = 0, size_ = 1;
  double timeout_;
  bool initialized_mpi_ = false;
  bool broken_ = false;  // a collective failed or timed out: finalizing would wait forever
  int64_t sequence_ = 0;
  int64_t waiting_for_ = -1;  // the sequence of the collective being waited on, for probes
};

}  // namespace minigrad::distributed
