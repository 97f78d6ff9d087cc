#include <minigrad/io.h>
#include <minigrad/nn/checkpoint.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

namespace minigrad::nn {
namespace {

// Tensor bytes are copied as they lie in memory; the format is little-endian.
static_assert(std::endian::native == std::endian::little, "checkpoint I/O assumes a little-endian host");

constexpr char kMagic[8] = {'M', 'I', 'N', 'I', 'G', 'R', 'A', 'D'};
constexpr std::size_t kSizeOffset = sizeof(kMagic) + sizeof(uint32_t);  // where the file size lives
constexpr std::size_t kPreamble = kSizeOffset + sizeof(uint64_t);

// On-disk dtype codes, fixed whatever the enum's order becomes.
uint8_t dtype_code(DType d) {
  switch (d) {
    case DType::Float32:
      return 0;
    case DType::Float64:
      return 1;
    case DType::Int64:
      return 2;
    case DType::Bool:
      return 3;
  }
  return 255;
}

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

void put_str(std::string& out, const std::string& s) {
  put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out += s;
}

uint32_t crc_update(uint32_t crc, const void* data, std::size_t n) {
  return static_cast<uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), n));
}

[[noreturn]] void refuse(const std::string& path, const std::string& problem) {
  throw Error(fmt::format("load_tensors: {}: {}", path, problem));
}

// Bounds-checked cursor over a loaded file: every read names what it was reading.
class Reader {
 public:
  Reader(const std::string& bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  template <typename T>
  T get(std::string_view what) {
    T value;
    std::memcpy(&value, take(sizeof(T), what), sizeof(T));
    return value;
  }
  std::string get_str(std::string_view what) {
    const auto n = get<uint32_t>(what);
    return std::string(take(n, what), n);
  }
  const char* take(std::size_t n, std::string_view what) {
    if (n > end() - pos_)
      fail(fmt::format("{} needs {} bytes at offset {} but only {} remain", what, n, pos_, end() - pos_));
    const char* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  std::size_t remaining() const { return end() - pos_; }
  [[noreturn]] void fail(const std::string& problem) const { refuse(path_, problem); }

 private:
  std::size_t end() const { return bytes_.size() - sizeof(uint32_t); }  // the CRC is not header
  const std::string& bytes_;
  const std::string& path_;
  std::size_t pos_ = kPreamble;
};

}  // namespace

void save_tensors(const std::string& path, const StateDict& tensors, const Metadata& metadata) {
  std::string header(kMagic, sizeof(kMagic));
  put<uint32_t>(header, kCheckpointVersion);
  put<uint64_t>(header, 0);  // the file size, patched below
  put<uint32_t>(header, static_cast<uint32_t>(metadata.size()));
  for (const auto& [key, value] : metadata) {
    put_str(header, key);
    put_str(header, value);
  }
  put<uint32_t>(header, static_cast<uint32_t>(tensors.size()));
  uint64_t data_bytes = 0;
  for (const auto& [name, t] : tensors) {
    if (!t.defined()) throw Error(fmt::format("save_tensors: {}: tensor '{}' is undefined", path, name));
    put_str(header, name);
    put<uint8_t>(header, dtype_code(t.dtype()));
    put<uint8_t>(header, static_cast<uint8_t>(t.dim()));
    for (int64_t d : t.shape()) put<int64_t>(header, d);
    const uint64_t bytes = t.numel() * dtype_size(t.dtype());
    put<uint64_t>(header, bytes);
    data_bytes += bytes;
  }
  const uint64_t file_size = header.size() + data_bytes + sizeof(uint32_t);
  std::memcpy(header.data() + kSizeOffset, &file_size, sizeof(file_size));

  // The whole file is assembled in memory and handed to write_file_atomic: a failure at any point
  // leaves the previous checkpoint in place.
  std::string file = std::move(header);
  file.reserve(file_size);
  for (const auto& [name, t] : tensors)
    file.append(static_cast<const char*>(t.raw_data()), t.numel() * dtype_size(t.dtype()));
  const uint32_t crc = crc_update(0, file.data(), file.size());
  put<uint32_t>(file, crc);
  minigrad::write_file_atomic(path, file);
}

Checkpoint load_tensors(const std::string& path) {
  std::string bytes;
  try {  // a regular file only: its size bounds the read (a device or a FIFO is refused unread)
    bytes = read_file_limited(path, std::numeric_limits<uint64_t>::max(), "a minigrad checkpoint");
  } catch (const Error& e) {
    throw Error(fmt::format("load_tensors: {}", e.what()));
  }

  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    refuse(path, "not a minigrad checkpoint (no MINIGRAD magic at the start)");
  if (bytes.size() < kPreamble + sizeof(uint32_t))
    refuse(path, fmt::format("truncated: {} bytes is shorter than any checkpoint", bytes.size()));
  uint32_t version;
  uint64_t declared;
  std::memcpy(&version, bytes.data() + sizeof(kMagic), sizeof(version));
  std::memcpy(&declared, bytes.data() + kSizeOffset, sizeof(declared));
  if (version != kCheckpointVersion)
    refuse(path, fmt::format("format version {} is not supported (this build reads version {})", version,
                             kCheckpointVersion));
  if (declared != bytes.size())
    refuse(path, fmt::format("{}: the header says {} bytes but the file has {}",
                             declared > bytes.size() ? "truncated" : "trailing data", declared, bytes.size()));
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - sizeof(stored_crc), sizeof(stored_crc));
  const uint32_t crc = crc_update(0, bytes.data(), bytes.size() - sizeof(stored_crc));
  if (crc != stored_crc)
    refuse(path, fmt::format("corrupt: CRC32 is {:08x} but the file records {:08x}", crc, stored_crc));

  // The CRC matched, so the header is what was written; the checks below guard crafted files.
  Reader r(bytes, path);
  Checkpoint out;
  const auto meta_count = r.get<uint32_t>("metadata count");
  for (uint32_t i = 0; i < meta_count; ++i) {
    std::string key = r.get_str("metadata key");
    out.metadata[key] = r.get_str("metadata value");
  }
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t bytes;
  };
  // Each entry takes at least 14 header bytes (name length, dtype, rank, byte size): bound the
  // count by the bytes left before allocating the table.
  constexpr std::size_t kMinEntryBytes = 4 + 1 + 1 + 8;
  const auto tensor_count = r.get<uint32_t>("tensor count");
  if (tensor_count > r.remaining() / kMinEntryBytes)
    r.fail(fmt::format("tensor count {} needs at least {} header bytes but only {} remain", tensor_count,
                       std::size_t{tensor_count} * kMinEntryBytes, r.remaining()));
  std::vector<Entry> table(tensor_count);
  uint64_t data_bytes = 0;
  for (auto& e : table) {
    e.name = r.get_str("tensor name");
    const auto code = r.get<uint8_t>("dtype");
    if (code > 3) r.fail(fmt::format("tensor '{}' has unknown dtype code {}", e.name, code));
    constexpr DType kByCode[] = {kFloat32, kFloat64, kInt64, kBool};
    e.dtype = kByCode[code];
    const auto rank = r.get<uint8_t>("rank");
    uint64_t numel = 1;
    bool empty_axis = false, too_big = false;  // the product must not overflow
    for (uint8_t d = 0; d < rank; ++d) {
      const auto dim = r.get<int64_t>("dimension");
      if (dim < 0) r.fail(fmt::format("tensor '{}' has negative dimension {}", e.name, dim));
      e.shape.push_back(dim);
      empty_axis |= dim == 0;
      if (dim > 0 && numel > bytes.size() / static_cast<uint64_t>(dim))
        too_big = true;
      else if (dim > 0)
        numel *= dim;
    }
    if (empty_axis) numel = 0;
    e.bytes = r.get<uint64_t>("byte size");
    if ((too_big && !empty_axis) || e.bytes != numel * dtype_size(e.dtype))
      r.fail(fmt::format("tensor '{}' of shape {} {} records {} bytes", e.name, shape_str(e.shape), e.dtype, e.bytes));
    data_bytes += e.bytes;
    if (data_bytes > bytes.size())
      r.fail(fmt::format("tensor sizes add up to more than the file's {} bytes", bytes.size()));
  }
  if (data_bytes != r.remaining())
    r.fail(fmt::format("the header describes {} bytes of tensor data but {} follow it", data_bytes, r.remaining()));
  for (const auto& e : table) {
    Tensor t = empty(e.shape, {.dtype = e.dtype});
    const char* data = r.take(e.bytes, "tensor data");
    // A bool byte other than 0 or 1 is no bool value: reading it would be undefined.
    if (e.dtype == kBool && std::any_of(data, data + e.bytes, [](char c) { return c != 0 && c != 1; }))
      r.fail(fmt::format("bool tensor '{}' holds a byte other than 0 and 1", e.name));
    std::memcpy(t.raw_data(), data, e.bytes);
    if (!out.tensors.emplace(e.name, t).second) r.fail(fmt::format("tensor '{}' appears twice", e.name));
  }
  return out;
}

void save(const Module& module, const std::string& path) {
  save_tensors(path, module.state_dict(), {{"format", "minigrad.module"}, {"kind", module.kind()}});
}

void load(Module& module, const std::string& path) {
  Checkpoint ck = load_tensors(path);
  const auto format = ck.metadata.find("format");
  if (format != ck.metadata.end() && format->second != "minigrad.module")
    throw Error(fmt::format("load: {}: holds '{}', not a module's parameters", path, format->second));
  try {
    module.load_state_dict(ck.tensors);
  } catch (const Error& e) {
    throw Error(fmt::format("load: {}: {}", path, e.what()));
  }
}

}  // namespace minigrad::nn
