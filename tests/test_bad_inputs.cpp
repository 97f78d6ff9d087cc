// Corpora of broken inputs for the library's readers: IDX (raw and gzipped), Kaggle CSV and
// checkpoints. Each corpus is generated from a valid file (every truncation, byte flips, edited
// header fields) plus hand-written cases. Every input is read in a child process with a capped
// address space (bad_input.h): it must throw the reader's error type with a message naming the
// file (and, where given, the problem), or - for the few mutations that leave a file valid, such
// as a gzip timestamp - read back exactly what the good file holds. Nothing may crash, return
// different data, or allocate more than the input justifies.
#include <catch2/catch.hpp>

#include <cstring>
#include <numeric>

#include <sys/stat.h>

#include <zlib.h>

#include <minigrad/data/csv.h>
#include <minigrad/data/fashion_mnist.h>
#include <minigrad/data/idx.h>
#include <minigrad/minigrad.h>

#include "bad_input.h"

namespace md = minigrad::data;
namespace nn = minigrad::nn;
using namespace bad_input;
using Catch::Matchers::Contains;

namespace {

struct Case {
  std::string name;
  Bytes bytes;
  std::string expect;         // a part of the message beyond the path; empty: any
  bool may_be_valid = false;  // the mutation may leave the file valid: then it must read as the good one
};

std::vector<Case> cases_of(const std::vector<Variant>& variants, bool may_be_valid = false) {
  std::vector<Case> out;
  for (const Variant& v : variants) out.push_back({v.name, v.bytes, "", may_be_valid});
  return out;
}

// Memory a reader may use beyond its input: buffers of a few MB, plus the data itself.
constexpr long long kBudget = 48LL << 20;

// Runs every case through read (which returns a digest of what it read); returns how many ran.
template <class Expected>
size_t check_corpus(const TempDir& dir, const std::string& reader, const std::vector<Case>& cases,
                    const std::function<std::string(const std::string&)>& read, const std::string& good_digest) {
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const std::string path = dir / (reader + "-" + std::to_string(i));
    write_file(path, c.bytes);
    const Outcome out =
        run_capped<Expected>([&] { return read(path); }, kBudget + 8 * static_cast<long long>(c.bytes.size()));
    INFO(reader << " case " << i << ": " << c.name << " -> " << kind_name(out.kind) << ": " << out.text.substr(0, 300));
    if (out.kind == Outcome::Returned && c.may_be_valid) {
      CHECK(out.text == good_digest);
      continue;
    }
    REQUIRE(out.kind == Outcome::Threw);
    CHECK_THAT(out.text, Contains(path));
    if (!c.expect.empty()) CHECK_THAT(out.text, Contains(c.expect));
    CHECK(out.text.find('\n') == std::string::npos);  // one line
  }
  return cases.size();
}

Bytes gzip(const Bytes& bytes) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  Bytes out(deflateBound(&zs, static_cast<uLong>(bytes.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

Bytes idx_file(const std::vector<uint32_t>& dims, const Bytes& payload, uint8_t type = 0x08) {
  Bytes b = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<char>(d >> shift));
  return b + payload;
}

Bytes iota(size_t n) {
  Bytes b(n, '\0');
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<char>(i * 7);
  return b;
}

std::string digest(const md::IdxArray& a) {
  std::string s;
  for (int64_t d : a.dims) s += std::to_string(d) + "x";
  return s + ":" + std::string(a.bytes.begin(), a.bytes.end());
}

std::string digest(const md::ImageSet& s) {
  return std::to_string(s.count) + ":" + std::string(s.labels.begin(), s.labels.end()) + ":" +
         std::string(s.pixels.begin(), s.pixels.end());
}

}  // namespace

TEST_CASE("bad input: IDX corpus", "[data][bad-input]") {
  TempDir dir;
  const Bytes good = idx_file({3, 4, 5}, iota(60));
  const Bytes good_gz = gzip(good);
  const auto read = [](const std::string& path) { return digest(md::read_idx(path)); };
  write_file(dir / "good", good);
  const std::string good_digest = read(dir / "good");

  std::vector<Case> cases = cases_of(truncations(good));
  for (auto& c : cases_of(truncations(good_gz))) cases.push_back(c);
  for (uint8_t mask : {0x01, 0x80, 0xFF})
    for (auto& c : cases_of(flips(good, 0, 16, mask))) cases.push_back(c);
  // Flipping gzip bytes: the CRC catches changed data; header bytes (timestamp, OS) may stay valid.
  for (auto& c : cases_of(flips(good_gz, 0, good_gz.size(), 0x01), true)) cases.push_back(c);
  for (auto& c : cases_of(flips(good_gz, 0, good_gz.size(), 0xFF), true)) cases.push_back(c);
  const Bytes huge_header = idx_file({65535, 65535, 65535}, Bytes(1000, '\0'));
  const std::vector<Case> named = {
      {"empty file", "", "file is empty"},
      {"wrong magic", "\x12\x34" + good.substr(2), "bad magic number 0x12 0x34"},
      {"a text file", "label,pixel1\n1,2\n", "bad magic number"},
      {"float32 elements", idx_file({2}, Bytes(8, '\0'), 0x0D), "unsupported IDX element type 0x0D"},
      {"no dimensions", idx_file({}, ""), "header says 0 dimensions"},
      {"five dimensions", idx_file({1, 1, 1, 1, 1}, "x"), "header says 5 dimensions"},
      {"dimensions overflow int64", idx_file({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, iota(100)),
       "more than a 64-bit size"},
      {"2.8e14 bytes promised, 1000 given", huge_header, "payload has 1000 bytes, header says 65535x65535x65535"},
      {"2.8e14 bytes promised, gzipped", gzip(huge_header), "payload has 1000 bytes"},
      {"4 GB promised, 1 MB of gzipped zeros", gzip(idx_file({65536, 65536}, Bytes(1 << 20, '\0'))),
       "payload has 1048576 bytes"},
      {"zero images with a payload", idx_file({0, 28, 28}, "abc"), "3 trailing bytes"},
      {"trailing bytes", good + "xyz", "3 trailing bytes"},
      {"gzipped trailing bytes", gzip(good + "xyz"), "3 trailing bytes"},
      {"junk after the gzip stream", good_gz + "junk", "4 bytes of non-gzip data"},
      {"gzip magic only", "\x1f\x8b", "gzip stream is cut short"},
      {"gzip header, deflate garbage", good_gz.substr(0, 10) + Bytes(50, '\xff'), "corrupt gzip stream"},
      {"a second gzip member that is garbage", good_gz + "\x1f\x8b" + Bytes(30, '\x07'), "corrupt gzip stream"},
  };
  cases.insert(cases.end(), named.begin(), named.end());
  const size_t tried = check_corpus<md::DataError>(dir, "idx", cases, read, good_digest);
  CHECK(tried > 300);
  WARN("IDX: " << tried << " broken files tried");
}

TEST_CASE("bad input: IDX image/label pairs that disagree", "[data][bad-input]") {
  TempDir dir;
  write_file(dir / "images", idx_file({3, 2, 2}, iota(12)));
  const std::vector<std::tuple<std::string, Bytes, std::string>> labels = {
      {"label 10 of 10 classes", idx_file({3}, Bytes{1, 10, 2}), "label at index 1 is 10"},
      {"label 255", idx_file({3}, Bytes{1, 2, '\xff'}), "label at index 2 is 255"},
      {"2 labels for 3 images", idx_file({2}, Bytes{1, 2}), "has 2 labels"},
      {"4 labels for 3 images", idx_file({4}, Bytes{1, 2, 3, 4}), "has 4 labels"},
      {"labels as a matrix", idx_file({3, 1}, Bytes{1, 2, 3}),
       "is an IDX file of 2 dimensions, expected a labels file"},
      {"an images file as labels", idx_file({3, 2, 2}, iota(12)),
       "is an images file (3 dimensions: count x rows x cols), "
       "expected a labels file (1 dimension: count)"},
  };
  for (const auto& [name, bytes, expect] : labels) {
    INFO(name);
    write_file(dir / "labels", bytes);
    const Outcome out =
        run_capped<md::DataError>([&] { return digest(md::load_idx_pair(dir / "images", dir / "labels")); }, kBudget);
    REQUIRE(out.kind == Outcome::Threw);
    CHECK_THAT(out.text, Contains(dir / "labels") && Contains(expect));
  }
  write_file(dir / "labels", idx_file({3}, Bytes{1, 2, 3}));
  write_file(dir / "flat", idx_file({12}, iota(12)));
  CHECK_THROWS_WITH(md::load_idx_pair(dir / "flat", dir / "labels"),
                    Contains(dir / "flat: is a labels file (1 dimension: count), expected an images file"));
}

TEST_CASE("bad input: CSV corpus", "[data][bad-input]") {
  TempDir dir;
  const std::vector<std::string> lines = {"label,p1,p2,p3,p4", "3,0,1,254,255", "9,7,8,9,10", "0,1,2,3,4"};
  const auto join = [](const std::vector<std::string>& ls) {
    std::string s;
    for (const auto& l : ls) s += l + "\n";
    return s;
  };
  const auto read = [](const std::string& path) { return digest(md::read_image_csv(path, 2, 2, 10)); };

  std::vector<Case> cases;
  // Every data cell replaced by each bad value: the message names line, column and the cell.
  const std::vector<std::pair<std::string, std::string>> bad_cells = {
      {"", "empty cell"},
      {"abc", "'abc' is not an integer"},
      {"1.5", "'1.5' is not an integer"},
      {"0x10", "'0x10' is not an integer"},
      {"1e2", "'1e2' is not an integer"},
      {"+1", "'+1' is not an integer"},
      {"-1", "'-1' is out of range"},
      {"256", "'256' is out of range 0..255"},
      {"99999999999999999999", "is out of range"},
      {"\x01\x02", "is not an integer"},
  };
  for (size_t line = 1; line < lines.size(); ++line)
    for (size_t col = 0; col < 5; ++col)
      for (const auto& [value, expect] : bad_cells) {
        std::vector<std::string> ls = lines;
        std::vector<std::string> cells;
        for (size_t at = 0; at <= ls[line].size();) {
          const size_t comma = std::min(ls[line].find(',', at), ls[line].size());
          cells.push_back(ls[line].substr(at, comma - at));
          at = comma + 1;
        }
        // A label of 256 is out of 0..9, not 0..255.
        std::string want = col == 0 && value == "256" ? "'256' is out of range 0..9" : expect;
        cells[col] = value;
        std::string edited;
        for (size_t c = 0; c < cells.size(); ++c) edited += (c ? "," : "") + cells[c];
        ls[line] = edited;
        cases.push_back({"line " + std::to_string(line + 1) + " cell " + std::to_string(col + 1) + " = '" + value + "'",
                         join(ls), "line " + std::to_string(line + 1) + ", column " + std::to_string(col + 1)});
        cases.push_back({cases.back().name + " (message)", join(ls), want});
      }
  for (size_t line = 1; line < lines.size(); ++line) {
    for (const int label : {10, 11, 255}) {
      std::vector<std::string> ls = lines;
      ls[line] = std::to_string(label) + ls[line].substr(1);
      cases.push_back(
          {"label " + std::to_string(label), join(ls), "label '" + std::to_string(label) + "' is out of range 0..9"});
    }
    std::vector<std::string> ls = lines;
    ls[line] = ls[line].substr(0, ls[line].rfind(','));
    cases.push_back(
        {"a cell missing on line " + std::to_string(line + 1), join(ls), "the line has 4 columns, expected 5"});
    ls = lines;
    ls[line] += ",5";
    cases.push_back(
        {"a cell too many on line " + std::to_string(line + 1), join(ls), "the line has 6 columns, expected 5"});
    ls = lines;
    ls.insert(ls.begin() + static_cast<long>(line), "");
    cases.push_back({"a blank line before line " + std::to_string(line + 1), join(ls), "is blank"});
  }
  const std::vector<Case> named = {
      {"empty file", "", "file is empty"},
      {"only newlines", "\n\n\n", "only blank lines"},
      {"a header of the wrong width", "label,a,b\n1,2,3,4,5\n", "line 1 (header): has 3 columns, expected 5"},
      {"NUL bytes", Bytes(64, '\0'), ""},
      {"an IDX file", idx_file({2, 2}, iota(4)), ""},
      {"a gzipped CSV", gzip(join(lines)), ""},
      {"a 2 MB line of commas", "1" + std::string(2 << 20, ','), "column 2 (pixel1): empty cell"},
      {"a cell of 10,000 digits", "1," + std::string(10000, '7') + ",1,2,3\n", "is out of range"},
      {"CR only line ends", "3,0,1,254,255\r9,7,8,9,10\r", ""},
  };
  cases.insert(cases.end(), named.begin(), named.end());
  write_file(dir / "good.csv", join(lines));
  const size_t tried = check_corpus<md::DataError>(dir, "csv", cases, read, read(dir / "good.csv"));
  CHECK(tried > 300);
  WARN("CSV: " << tried << " broken files tried");
}

namespace {

nn::Sequential small_mlp(int64_t in, int64_t hidden) {
  minigrad::Generator gen(5);
  return nn::Sequential{nn::Linear(in, hidden, {.generator = &gen}), nn::ReLU(),
                        nn::Linear(hidden, 2, {.generator = &gen})};
}

std::string digest(const nn::Checkpoint& ck) {
  std::string s;
  for (const auto& [k, v] : ck.metadata) s += k + "=" + v + ";";
  for (const auto& [name, t] : ck.tensors)
    s += name + minigrad::shape_str(t.shape()) +
         std::string(static_cast<const char*>(t.raw_data()), t.numel() * minigrad::dtype_size(t.dtype()));
  return s;
}

// Sets the size field and the CRC of an edited checkpoint, so the edit reaches the header checks.
Bytes reseal(Bytes b) {
  const uint64_t size = b.size();
  std::memcpy(b.data() + 12, &size, sizeof size);
  const uint32_t crc = static_cast<uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(b.data()), b.size() - 4));
  std::memcpy(b.data() + b.size() - 4, &crc, sizeof crc);
  return b;
}

template <class T>
Bytes put_at(Bytes b, size_t offset, T value) {
  std::memcpy(b.data() + offset, &value, sizeof value);
  return reseal(b);
}

}  // namespace

TEST_CASE("bad input: checkpoint corpus", "[nn][bad-input]") {
  TempDir dir;
  // One tensor, one metadata entry: the header offsets below follow the format in checkpoint.h.
  nn::save_tensors(dir / "one", {{"w", minigrad::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3})}}, {{"k", "v"}});
  const Bytes one = read_file(dir / "one");
  // 8 magic, 4 version, 8 size, 4 meta count, (4+1 "k") (4+1 "v"), 4 tensor count, 4+1 "w", dtype, rank, dims, bytes
  const size_t meta_count = 20, tensor_count = 34, name_len = 38, dtype = 43, rank = 44, dim0 = 45, byte_size = 61;
  REQUIRE(one.substr(name_len + 4, 1) == "w");

  const auto model = small_mlp(3, 4);
  nn::save(model, dir / "model");
  const Bytes good = read_file(dir / "model");
  const auto read = [](const std::string& path) { return digest(nn::load_tensors(path)); };

  std::vector<Case> cases = cases_of(truncations(good));
  for (uint8_t mask : {0x01, 0x80})
    for (auto& c : cases_of(flips(good, 0, good.size(), mask))) cases.push_back(c);
  const std::vector<Case> named = {
      {"empty file", "", "not a minigrad checkpoint"},
      {"wrong magic", "MINIGRAF" + good.substr(8), "not a minigrad checkpoint"},
      {"an IDX file", idx_file({4}, "abcd"), "not a minigrad checkpoint"},
      {"version 2", put_at<uint32_t>(good, 8, 2), "format version 2 is not supported"},
      {"size field too large", good.substr(0, 12) + Bytes("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + good.substr(20),
       "truncated: the header says"},
      {"trailing data", good + "xyz", "trailing data"},
      {"flipped CRC", good.substr(0, good.size() - 1) + Bytes(1, static_cast<char>(good.back() ^ 1)), "corrupt: CRC32"},
      {"4e9 metadata entries", put_at<uint32_t>(one, meta_count, 0xFFFFFFFF), "needs"},
      {"4e9 tensors", put_at<uint32_t>(one, tensor_count, 0xFFFFFFFF), "tensor count 4294967295"},
      {"a 4 GB tensor name", put_at<uint32_t>(one, name_len, 0xFFFFFFFF), "tensor name needs 4294967295 bytes"},
      {"dtype code 7", put_at<uint8_t>(one, dtype, 7), "unknown dtype code 7"},
      {"rank 255", put_at<uint8_t>(one, rank, 255), ""},
      {"negative dimension", put_at<int64_t>(one, dim0, -2), "negative dimension -2"},
      {"dimension 2^62", put_at<int64_t>(one, dim0, int64_t{1} << 62), "records"},
      {"byte size disagrees with the shape", put_at<uint64_t>(one, byte_size, 20), "records 20 bytes"},
      {"byte size 2^63", put_at<uint64_t>(one, byte_size, uint64_t{1} << 63), "records"},
      {"a tensor appears twice",
       [&] {
         nn::save_tensors(dir / "two", {{"a", minigrad::ones({1})}, {"b", minigrad::ones({1})}});
         Bytes b = read_file(dir / "two");
         const size_t at = b.find(std::string("\x01\0\0\0b", 5));
         b[at + 4] = 'a';
         return reseal(b);
       }(),
       "'a' appears twice"},
  };
  cases.insert(cases.end(), named.begin(), named.end());
  size_t tried = check_corpus<minigrad::Error>(dir, "ckpt", cases, read, read(dir / "model"));

  // Whole files that are valid checkpoints of something else.
  const std::vector<std::tuple<std::string, std::function<void(const std::string&)>, std::string>> foreign = {
      {"another architecture", [](const std::string& p) { nn::save(small_mlp(3, 5), p); },
       "has shape (4, 3) in the model but (5, 3)"},
      {"another input size", [](const std::string& p) { nn::save(small_mlp(7, 4), p); }, "(4, 7)"},
      {"fewer layers", [](const std::string& p) { nn::save(nn::Sequential{nn::Linear(3, 4)}, p); },
       "missing keys [2.weight, 2.bias]"},
      {"not a module",
       [](const std::string& p) {
         nn::save_tensors(p, {{"0.weight", minigrad::ones({4, 3})}}, {{"format", "optimizer"}});
       },
       "holds 'optimizer'"},
      {"int64 parameters",
       [](const std::string& p) {
         auto state = small_mlp(3, 4).state_dict();
         state["0.bias"] = minigrad::zeros({4}, {.dtype = minigrad::kInt64});
         nn::save_tensors(p, state);
       },
       "dtype int64"},
  };
  for (const auto& [name, write, expect] : foreign) {
    INFO(name);
    const std::string path = dir / ("foreign-" + std::to_string(tried++));
    write(path);
    auto target = small_mlp(3, 4);
    const Outcome out = run_capped<minigrad::Error>(
        [&] {
          nn::load(target, path);
          return std::string();
        },
        kBudget);
    REQUIRE(out.kind == Outcome::Threw);
    CHECK_THAT(out.text, Contains(path) && Contains(expect));
  }
  CHECK(tried > 900);
  WARN("checkpoint: " << tried << " broken files tried");
}

// A FIFO without a writer blocks an ordinary open forever, and a device such as /dev/zero never
// ends: every reader must refuse both (and a directory) unread, naming the kind of file.
TEST_CASE("bad input: every reader refuses a FIFO, a device and a directory without reading them", "[bad-input]") {
  TempDir dir;
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  const std::vector<std::pair<std::string, std::string>> inputs = {
      {dir / "fifo", "is a FIFO, not a regular file"},
      {"/dev/zero", "is a character device, not a regular file"},
      {dir.path.string(), "is a directory, not a regular file"},
  };
  write_file(dir / "labels", idx_file({3}, Bytes{1, 2, 3}));
  const std::vector<std::pair<std::string, std::function<void(const std::string&)>>> data_readers = {
      {"read_idx", [](const std::string& p) { md::read_idx(p); }},
      {"read_image_csv", [](const std::string& p) { md::read_image_csv(p); }},
      {"load_idx_pair", [&](const std::string& p) { md::load_idx_pair(p, dir / "labels"); }},
  };
  for (const auto& [path, expect] : inputs) {
    for (const auto& [name, read] : data_readers) {
      INFO(name << "(" << path << ")");
      const Outcome out = run_capped<md::DataError>(
          [&] {
            read(path);
            return std::string();
          },
          kBudget);
      INFO(kind_name(out.kind) << ": " << out.text);
      REQUIRE(out.kind == Outcome::Threw);
      CHECK_THAT(out.text, Contains(path) && Contains(expect));
    }
    INFO("load_tensors(" << path << ")");
    const Outcome out = run_capped<minigrad::Error>(
        [&] {
          nn::load_tensors(path);
          return std::string();
        },
        kBudget);
    INFO(kind_name(out.kind) << ": " << out.text);
    REQUIRE(out.kind == Outcome::Threw);
    CHECK_THAT(out.text, Contains(path) && Contains(expect));
  }
}
