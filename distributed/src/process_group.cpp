#include <minigrad/distributed/process_group.h>

#include <sched.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace minigrad::distributed {

namespace {

constexpr int kProbeTag = 1, kReplyTag = 2;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double timeout_from_env(double fallback) {
  const char* text = std::getenv("MINIGRAD_DIST_TIMEOUT");
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (*end != '\0' || !(value > 0))
    throw DistributedError(fmt::format("MINIGRAD_DIST_TIMEOUT is '{}'; it must be a positive number of seconds", text));
  return value;
}

int checked_count(int64_t bytes, std::string_view what) {
  if (bytes < 0 || bytes > INT_MAX)
    throw DistributedError(fmt::format("{}: {} bytes in one message is more than MPI's int count allows", what, bytes));
  return static_cast<int>(bytes);
}

// Spins briefly, then yields, then sleeps: a wait never takes a core from the ranks' compute threads
// for long, and a short wait costs no sleep.
void pause(int64_t round) {
  if (round < 64) return;
  if (round < 1024)
    sched_yield();
  else
    std::this_thread::sleep_for(std::chrono::microseconds(50));
}

std::string rank_list(const std::vector<int>& ranks) {
  std::string out = ranks.size() == 1 ? "rank " : "ranks ";
  for (std::size_t i = 0; i < ranks.size(); ++i) out += (i ? ", " : "") + std::to_string(ranks[i]);
  return out;
}

}  // namespace

bool ProcessGroup::launched_by_mpi() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(variable)) return true;
  return false;
}

ProcessGroup::ProcessGroup(ProcessGroupOptions options) : timeout_(timeout_from_env(options.timeout_seconds)) {
  int running = 0;
  MPI_Initialized(&running);
  if (!running) {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      throw DistributedError("MPI_Init_thread failed");
    initialized_mpi_ = true;
  }
  // Errors come back as codes and become exceptions, instead of MPI ending the process.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup", "process group");
  check(MPI_Comm_dup(MPI_COMM_WORLD, &control_), "MPI_Comm_dup", "process group");
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

ProcessGroup::~ProcessGroup() {
  if (broken_ || std::uncaught_exceptions() > 0) MPI_Abort(MPI_COMM_WORLD, 1);
  MPI_Comm_free(&control_);
  MPI_Comm_free(&comm_);
  if (initialized_mpi_) MPI_Finalize();
}

void ProcessGroup::abort(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this satisfies [[noreturn]]
}

void ProcessGroup::check(int code, std::string_view call, std::string_view what) {
  if (code == MPI_SUCCESS) return;
  broken_ = true;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw DistributedError(fmt::format("rank {}: {}: {} failed: {}", rank_, what, call, std::string_view(text, length)));
}

namespace {

// Chunk c of n elements cut in `parts`: [begin, end).
std::pair<int64_t, int64_t> chunk(int64_t n, int parts, int c) { return {c * n / parts, (c + 1) * n / parts}; }

template <typename F>
void dispatch_sum(DType dtype, std::string_view what, F&& f) {
  switch (dtype) {
    case DType::Float32:
      return f(float{});
    case DType::Float64:
      return f(double{});
    case DType::Int64:
      return f(int64_t{});
    default:
      throw DistributedError(fmt::format("{}: cannot sum a {} tensor", what, dtype_name(dtype)));
  }
}

}  // namespace

void ProcessGroup::start_all_reduce_sum(Tensor data, Request& request) {
  dispatch_sum(data.dtype(), request.what, [](auto) {});
  request.sequence = sequence_++;
  request.step = 0;
  const int64_t largest = (data.numel() + size_ - 1) / size_;
  if (!request.scratch.defined() || request.scratch.dtype() != data.dtype() || request.scratch.numel() < largest)
    request.scratch = empty({largest}, {.dtype = data.dtype()});
  request.data = std::move(data);
  if (size_ > 1) post_ring_step(request);
}

// Step s < size - 1 (reduce-scatter): send chunk r - s to the right, receive chunk r - s - 1 from
// the left into scratch. Step size - 1 + t (all-gather): send chunk r + 1 - t, receive chunk r - t
// in place. Each collective has its own tag, so buckets in flight together never mix.
void ProcessGroup::post_ring_step(Request& request) {
  const int right = (rank_ + 1) % size_, left = (rank_ + size_ - 1) % size_;
  const int tag = static_cast<int>(request.sequence % 32768);  // MPI guarantees tags up to 32767
  const auto mod = [&](int c) { return ((c % size_) + size_) % size_; };
  const bool scatter = request.step < size_ - 1;
  const int t = scatter ? request.step : request.step - (size_ - 1);
  const int send_chunk = scatter ? mod(rank_ - t) : mod(rank_ + 1 - t);
  const int recv_chunk = scatter ? mod(rank_ - t - 1) : mod(rank_ - t);
  const int64_t element = static_cast<int64_t>(dtype_size(request.data.dtype()));
  auto* base = static_cast<std::byte*>(request.data.raw_data());
  const auto [send_begin, send_end] = chunk(request.data.numel(), size_, send_chunk);
  const auto [recv_begin, recv_end] = chunk(request.data.numel(), size_, recv_chunk);
  void* into = scatter ? request.scratch.raw_data() : base + recv_begin * element;
  check(MPI_Irecv(into, checked_count((recv_end - recv_begin) * element, request.what), MPI_BYTE, left, tag, comm_,
                  &request.transfers[1]),
        "MPI_Irecv", request.what);
  check(MPI_Isend(base + send_begin * element, checked_count((send_end - send_begin) * element, request.what), MPI_BYTE,
                  right, tag, comm_, &request.transfers[0]),
        "MPI_Isend", request.what);
}

bool ProcessGroup::test(Request& request) {
  const int steps = 2 * (size_ - 1);
  while (request.step < steps) {
    int done = 0;
    check(MPI_Testall(2, request.transfers, &done, MPI_STATUSES_IGNORE), "MPI_Testall", request.what);
    if (!done) return false;
    if (request.step < size_ - 1) {  // add the incoming partial sum to ours: theirs + ours, in ring order
      const int c = ((rank_ - request.step - 1) % size_ + size_) % size_;
      // Not a structured binding: clang before 16 cannot capture one in the lambda.
      const auto range = chunk(request.data.numel(), size_, c);
      const int64_t begin = range.first, count = range.second - range.first;
      dispatch_sum(request.data.dtype(), request.what, [&](auto zero) {
        using T = decltype(zero);
        T* ours = request.data.data<T>() + begin;
        const T* theirs = request.scratch.data<T>();
        for (int64_t i = 0; i < count; ++i) ours[i] = theirs[i] + ours[i];
      });
    }
    if (++request.step < steps) post_ring_step(request);
  }
  return true;
}

// A rank waiting on a collective answers the probes of ranks that suspect it, with the sequence
// number of the collective it waits on.
void ProcessGroup::answer_probes() {
  for (;;) {
    int pending = 0;
    MPI_Status status;
    check(MPI_Iprobe(MPI_ANY_SOURCE, kProbeTag, control_, &pending, &status), "MPI_Iprobe", "watchdog");
    if (!pending) return;
    int64_t their = 0;
    check(MPI_Recv(&their, 1, MPI_INT64_T, status.MPI_SOURCE, kProbeTag, control_, MPI_STATUS_IGNORE), "MPI_Recv",
          "watchdog");
    check(MPI_Send(&waiting_for_, 1, MPI_INT64_T, status.MPI_SOURCE, kReplyTag, control_), "MPI_Send", "watchdog");
  }
}

void ProcessGroup::wait(Request& request) {
  wait_until([&] { return test(request); }, request);
}

void ProcessGroup::wait_for(MPI_Request& handle, const Request& request) {
  wait_until(
      [&] {
        int done = 0;
        check(MPI_Test(&handle, &done, MPI_STATUS_IGNORE), "MPI_Test", request.what);
        return done != 0;
      },
      request);
}

template <typename Done>
void ProcessGroup::wait_until(Done&& done, const Request& request) {
  const auto start = std::chrono::steady_clock::now();
  waiting_for_ = request.sequence;
  for (int64_t round = 0; !done(); ++round) {
    if (round % 256 == 255) {
      answer_probes();
      if (const double waited = seconds_since(start); waited > timeout_) timed_out(request, waited);
    }
    pause(round);
  }
  waiting_for_ = -1;
}

// Asks every other rank what it waits on, for up to a tenth of the timeout (at least 2 s): a rank
// that does not answer has died or hangs outside the collectives; one that waits on another
// collective disagrees with us on the order of collectives.
void ProcessGroup::timed_out(const Request& request, double waited) {
  broken_ = true;
  std::vector<int64_t> replies(size_, -2);
  std::vector<MPI_Request> sends(size_, MPI_REQUEST_NULL), receives(size_, MPI_REQUEST_NULL);
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    MPI_Isend(&waiting_for_, 1, MPI_INT64_T, r, kProbeTag, control_, &sends[r]);
    MPI_Irecv(&replies[r], 1, MPI_INT64_T, r, kReplyTag, control_, &receives[r]);
  }
  const auto start = std::chrono::steady_clock::now();
  const double patience = std::max(2.0, timeout_ / 10);
  for (int64_t round = 0; seconds_since(start) < patience; ++round) {
    answer_probes();
    int all = 0;
    MPI_Testall(size_, receives.data(), &all, MPI_STATUSES_IGNORE);
    if (all) break;
    pause(round);
  }
  std::vector<int> silent, elsewhere;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    int done = 0;
    MPI_Test(&receives[r], &done, MPI_STATUS_IGNORE);
    if (!done)
      silent.push_back(r);
    else if (replies[r] != request.sequence)
      elsewhere.push_back(r);
  }
  std::string who;
  if (!silent.empty())
    who = fmt::format("{} did not respond (died, or hangs outside the collectives)", rank_list(silent));
  else if (!elsewhere.empty())
    who = fmt::format("{} waits on another collective (the ranks disagree on what to do next)", rank_list(elsewhere));
  else
    who = "every rank answers and waits on it (a network or MPI problem)";
  throw DistributedError(
      fmt::format("rank {}: {} {} did not complete in {:.0f} s: {}; MINIGRAD_DIST_TIMEOUT sets the limit", rank_,
                  request.what, request.index, waited, who));
}

void ProcessGroup::broadcast_bytes(void* data, int64_t bytes, int root, std::string_view what) {
  if (size_ == 1) return;
  Request request{.what = what, .sequence = sequence_++};
  MPI_Request handle = MPI_REQUEST_NULL;
  check(MPI_Ibcast(data, checked_count(bytes, what), MPI_BYTE, root, comm_, &handle), "MPI_Ibcast", what);
  wait_for(handle, request);
}

void ProcessGroup::broadcast(Tensor& t, int root, std::string_view what) {
  broadcast_bytes(t.raw_data(), t.numel() * static_cast<int64_t>(dtype_size(t.dtype())), root, what);
}

Tensor ProcessGroup::all_gather(const Tensor& t, std::string_view what) {
  Shape shape{size_};
  for (const int64_t d : t.shape()) shape.push_back(d);
  Tensor out = empty(shape, {.dtype = t.dtype()});
  const int count = checked_count(t.numel() * static_cast<int64_t>(dtype_size(t.dtype())), what);
  Request request{.what = what, .sequence = sequence_++};
  MPI_Request handle = MPI_REQUEST_NULL;
  check(MPI_Iallgather(t.raw_data(), count, MPI_BYTE, out.raw_data(), count, MPI_BYTE, comm_, &handle),
        "MPI_Iallgather", what);
  wait_for(handle, request);
  return out;
}

void ProcessGroup::all_reduce_sum(Tensor& t, std::string_view what) {
  Request request{.what = what};
  start_all_reduce_sum(t, request);
  wait(request);
}

void ProcessGroup::check_same(uint64_t value, std::string_view what) {
  Tensor mine = empty({1}, {.dtype = kInt64});
  mine.data<int64_t>()[0] = static_cast<int64_t>(value);
  const Tensor all = all_gather(mine, what);
  const int64_t* values = all.data<int64_t>();
  std::vector<int> differing;
  for (int r = 1; r < size_; ++r)
    if (values[r] != values[0]) differing.push_back(r);
  if (!differing.empty())
    throw DistributedError(
        fmt::format("{}'s {} differs from rank 0's: every rank must run the same one", rank_list(differing), what));
}

}  // namespace minigrad::distributed
