// Tests of the raw readers of minigrad/data: IDX (raw and gzipped), the Fashion-MNIST loaders
// and the Kaggle-style CSV reader. Good and broken files are generated in a temporary directory.
#include <catch2/catch.hpp>

#include <minigrad/data/csv.h>
#include <minigrad/data/fashion_mnist.h>
#include <minigrad/data/idx.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <zlib.h>

namespace fs = std::filesystem;
namespace md = minigrad::data;
using Bytes = std::vector<uint8_t>;
using Catch::Matchers::Contains;

namespace {

// A fresh directory, removed with everything in it at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "minigrad-data-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

void write_text(const std::string& path, const std::string& text) { write_file(path, Bytes(text.begin(), text.end())); }

// One gzip member holding bytes.
Bytes gzip(const Bytes& bytes) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  Bytes out(deflateBound(&zs, static_cast<uLong>(bytes.size())) + 64);
  zs.next_in = const_cast<Bytef*>(bytes.data());
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

Bytes idx_header(const std::vector<uint32_t>& dims, uint8_t type = 0x08) {
  Bytes b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    b.push_back(static_cast<uint8_t>(d >> 24));
    b.push_back(static_cast<uint8_t>(d >> 16));
    b.push_back(static_cast<uint8_t>(d >> 8));
    b.push_back(static_cast<uint8_t>(d));
  }
  return b;
}

Bytes idx_file(const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes b = idx_header(dims);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes iota_bytes(size_t n, uint8_t start = 0) {
  Bytes b(n);
  std::iota(b.begin(), b.end(), start);
  return b;
}

// The message of the DataError that f throws; fails the test if it throws nothing or another type.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const md::DataError& e) {
    return e.what();
  }
  FAIL("expected a minigrad::data::DataError, nothing was thrown");
  return {};
}

// Writes bytes to dir/name (raw) and dir/name.gz (gzipped); returns both paths.
std::array<std::string, 2> write_both(const TempDir& dir, const std::string& name, const Bytes& bytes) {
  write_file(dir / name, bytes);
  write_file(dir / (name + ".gz"), gzip(bytes));
  return {dir / name, dir / (name + ".gz")};
}

}  // namespace

TEST_CASE("data: read_idx reads raw and gzipped IDX files", "[data]") {
  TempDir dir;
  for (const auto& dims : std::vector<std::vector<uint32_t>>{{7}, {3, 4}, {3, 2, 2}, {2, 1, 3, 2}, {0, 28, 28}}) {
    size_t n = 1;
    for (auto d : dims) n *= d;
    const Bytes payload = iota_bytes(n, 5);
    for (const auto& path :
         write_both(dir, std::string("a").append(std::to_string(dims.size())), idx_file(dims, payload))) {
      INFO(path);
      md::IdxArray a = md::read_idx(path);
      REQUIRE(a.dims == std::vector<int64_t>(dims.begin(), dims.end()));
      REQUIRE(a.bytes == payload);
    }
  }

  SECTION("a large payload, across many inflate calls") {
    const Bytes payload = iota_bytes(3'000'017, 1);
    for (const auto& path : write_both(dir, "big", idx_file({3'000'017}, payload))) {
      md::IdxArray a = md::read_idx(path);
      REQUIRE(a.bytes == payload);
    }
  }

  SECTION("a highly compressible payload: the buffer grows as data arrives") {
    const Bytes zeros(5'000'000, 0);
    const auto paths = write_both(dir, "zeros", idx_file({5, 1000, 1000}, zeros));
    REQUIRE(fs::file_size(paths[1]) < 100'000);
    REQUIRE(md::read_idx(paths[1]).bytes == zeros);
  }
  SECTION("gzip detection is by content, not by name; concatenated gzip members are one stream") {
    const Bytes payload = iota_bytes(24);
    write_file(dir / "gz-without-suffix", gzip(idx_file({2, 3, 4}, payload)));
    REQUIRE(md::read_idx(dir / "gz-without-suffix").bytes == payload);

    Bytes two = gzip(idx_header({2, 3, 4}));
    Bytes second = gzip(payload);
    two.insert(two.end(), second.begin(), second.end());
    write_file(dir / "two-members.gz", two);
    REQUIRE(md::read_idx(dir / "two-members.gz").bytes == payload);
  }
}

TEST_CASE("data: read_idx refuses bad headers, naming the file and the problem", "[data]") {
  TempDir dir;

  SECTION("bad magic") {
    Bytes b = idx_file({2}, {1, 2});
    b[0] = 0x12;
    b[1] = 0x34;
    for (const auto& path : write_both(dir, "badmagic", b)) {
      std::string msg = error_of([&] { md::read_idx(path); });
      CHECK_THAT(msg, Contains(path) && Contains("bad magic number 0x12 0x34 0x08 0x01"));
    }
  }
  SECTION("unsupported element type") {
    Bytes b = idx_header({2}, 0x0D);
    b.resize(b.size() + 8);
    for (const auto& path : write_both(dir, "float", b)) {
      std::string msg = error_of([&] { md::read_idx(path); });
      CHECK_THAT(msg, Contains(path) && Contains("unsupported IDX element type 0x0D (float32)") &&
                          Contains("only 0x08 (unsigned byte)"));
    }
    write_file(dir / "weird", idx_header({2}, 0x42));
    CHECK_THAT(error_of([&] { md::read_idx(dir / "weird"); }), Contains("0x42 (not an IDX type)"));
  }
  SECTION("number of dimensions outside 1..4") {
    write_file(dir / "ndim0", Bytes{0, 0, 8, 0});
    CHECK_THAT(error_of([&] { md::read_idx(dir / "ndim0"); }),
               Contains("ndim0") && Contains("header says 0 dimensions; only 1 to 4"));
    Bytes b = idx_header({1, 1, 1, 1, 1});
    b.push_back(7);
    for (const auto& path : write_both(dir, "ndim5", b))
      CHECK_THAT(error_of([&] { md::read_idx(path); }), Contains(path) && Contains("header says 5 dimensions"));
  }
  SECTION("truncated header") {
    Bytes b = idx_header({60000, 28, 28});
    b.resize(10);  // magic + 1.5 dimensions
    for (const auto& path : write_both(dir, "shorthdr", b))
      CHECK_THAT(error_of([&] { md::read_idx(path); }), Contains(path) && Contains("truncated header") &&
                                                            Contains("has 10 bytes") &&
                                                            Contains("3-dimensional IDX file needs 16"));
    write_file(dir / "twobytes", Bytes{0, 0});
    CHECK_THAT(error_of([&] { md::read_idx(dir / "twobytes"); }),
               Contains("twobytes") && Contains("truncated header: file has 2 bytes"));
  }
  SECTION("dimensions whose product overflows int64") {
    Bytes b = idx_header({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu});
    b.resize(b.size() + 100);
    for (const auto& path : write_both(dir, "overflow", b))
      CHECK_THAT(error_of([&] { md::read_idx(path); }), Contains(path) &&
                                                            Contains("dimensions 4294967295x4294967295x4294967295") &&
                                                            Contains("more than a 64-bit size"));
  }
  SECTION("a huge header that does not overflow allocates nothing it cannot justify") {
    Bytes b = idx_header({65535, 65535, 65535});  // 2.8e14 bytes promised
    b.resize(b.size() + 1000);
    for (const auto& path : write_both(dir, "huge", b))
      CHECK_THAT(error_of([&] { md::read_idx(path); }),
                 Contains(path) && Contains("payload has 1000 bytes, header says 65535x65535x65535 = 281462092005375"));
  }
  SECTION("empty file") {
    write_file(dir / "empty", {});
    CHECK_THAT(error_of([&] { md::read_idx(dir / "empty"); }), Contains("empty") && Contains("file is empty"));
  }
  SECTION("missing file, and a directory") {
    CHECK_THAT(error_of([&] { md::read_idx(dir / "no-such-file.gz"); }),
               Contains("no-such-file.gz") && Contains("cannot open") && Contains("No such file"));
    CHECK_THAT(error_of([&] { md::read_idx(dir.path.string()); }), Contains("is a directory"));
  }
}

TEST_CASE("data: read_idx checks the payload length against the header", "[data]") {
  TempDir dir;
  SECTION("truncated payload") {
    for (const auto& path : write_both(dir, "train-images-idx3-ubyte", idx_file({3, 2, 2}, iota_bytes(5))))
      CHECK_THAT(error_of([&] { md::read_idx(path); }),
                 Contains(path + ": payload has 5 bytes, header says 3x2x2 = 12") && Contains("truncated"));
  }
  SECTION("trailing bytes") {
    for (const auto& path : write_both(dir, "trailing", idx_file({3, 2, 2}, iota_bytes(15))))
      CHECK_THAT(error_of([&] { md::read_idx(path); }),
                 Contains(path + ": payload has 15 bytes, header says 3x2x2 = 12") && Contains("3 trailing bytes"));
  }
}

TEST_CASE("data: read_idx refuses corrupt gzip streams", "[data]") {
  TempDir dir;
  const Bytes good = gzip(idx_file({4, 8, 8}, iota_bytes(256)));

  SECTION("bad CRC") {
    Bytes b = good;
    b[b.size() - 6] ^= 0x5A;  // inside the CRC32 of the trailer
    write_file(dir / "badcrc.gz", b);
    CHECK_THAT(error_of([&] { md::read_idx(dir / "badcrc.gz"); }),
               Contains("badcrc.gz") && Contains("corrupt gzip stream") && Contains("incorrect data check"));
  }
  SECTION("invalid deflate block") {
    Bytes b = good;
    b[10] = 0x07;  // first deflate block: final, reserved type 3
    write_file(dir / "badblock.gz", b);
    CHECK_THAT(error_of([&] { md::read_idx(dir / "badblock.gz"); }),
               Contains("badblock.gz") && Contains("corrupt gzip stream") && Contains("invalid block type"));
  }
  SECTION("compressed file cut short") {
    Bytes b = good;
    b.resize(b.size() / 2);
    write_file(dir / "cut.gz", b);
    CHECK_THAT(error_of([&] { md::read_idx(dir / "cut.gz"); }),
               Contains("cut.gz") && Contains("gzip stream is cut short"));
    b = good;
    b.resize(b.size() - 4);  // the payload is whole, the trailer is not
    write_file(dir / "notrailer.gz", b);
    CHECK_THAT(error_of([&] { md::read_idx(dir / "notrailer.gz"); }),
               Contains("notrailer.gz") && Contains("gzip stream is cut short"));
  }
  SECTION("garbage after the gzip stream") {
    Bytes b = good;
    b.insert(b.end(), {'j', 'u', 'n', 'k'});
    write_file(dir / "junk.gz", b);
    CHECK_THAT(error_of([&] { md::read_idx(dir / "junk.gz"); }),
               Contains("junk.gz") && Contains("4 bytes of non-gzip data after the end of the gzip stream"));
  }
}

TEST_CASE("data: load_idx_pair checks that images and labels agree", "[data]") {
  TempDir dir;
  const auto images = write_both(dir, "img", idx_file({3, 2, 2}, iota_bytes(12)));

  SECTION("a good pair") {
    write_file(dir / "lab", idx_file({3}, {9, 0, 4}));
    md::ImageSet s = md::load_idx_pair(images[1], dir / "lab");
    CHECK(s.count == 3);
    CHECK(s.rows == 2);
    CHECK(s.cols == 2);
    CHECK(s.pixels == iota_bytes(12));
    CHECK(s.labels == Bytes{9, 0, 4});
  }
  SECTION("count mismatch") {
    write_file(dir / "lab2.gz", gzip(idx_file({2}, {1, 2})));
    CHECK_THAT(
        error_of([&] { md::load_idx_pair(images[0], dir / "lab2.gz"); }),
        Contains(dir / "lab2.gz") && Contains("has 2 labels but") && Contains(images[0]) && Contains("has 3 images"));
  }
  SECTION("label 10") {
    write_file(dir / "lab10", idx_file({3}, {1, 10, 2}));
    CHECK_THAT(error_of([&] { md::load_idx_pair(images[0], dir / "lab10"); }),
               Contains(dir / "lab10") && Contains("label at index 1 is 10") && Contains("0..9"));
    // ...which is fine with more classes
    CHECK(md::load_idx_pair(images[0], dir / "lab10", 11).labels[1] == 10);
  }
  SECTION("wrong ranks") {
    write_file(dir / "flat", idx_file({3, 4}, iota_bytes(12)));
    write_file(dir / "lab", idx_file({3}, {1, 2, 3}));
    CHECK_THAT(error_of([&] { md::load_idx_pair(dir / "flat", dir / "lab"); }),
               Contains("flat: is an IDX file of 2 dimensions, expected an images file"));
    CHECK_THAT(error_of([&] { md::load_idx_pair(images[0], images[1]); }),
               Contains(images[1] + ": is an images file (3 dimensions: count x rows x cols), expected a labels file"));
    CHECK_THAT(error_of([&] { md::load_idx_pair(dir / "lab", dir / "lab"); }),
               Contains("lab: is a labels file (1 dimension: count), expected an images file"));
  }
}

TEST_CASE("data: load_fashion_mnist and find_fashion_mnist on a generated directory", "[data]") {
  TempDir dir;
  // train gzipped, test raw: both spellings are accepted.
  write_file(dir / "train-images-idx3-ubyte.gz", gzip(idx_file({4, 28, 28}, iota_bytes(4 * 784))));
  write_file(dir / "train-labels-idx1-ubyte.gz", gzip(idx_file({4}, {0, 1, 2, 9})));
  write_file(dir / "t10k-images-idx3-ubyte", idx_file({2, 28, 28}, iota_bytes(2 * 784, 100)));

  SECTION("a missing file is named") {
    CHECK_THAT(error_of([&] { md::load_fashion_mnist(dir.path.string(), md::Split::Test); }),
               Contains("t10k-labels-idx1-ubyte") && Contains("not found"));
    // A directory named on the command line is authoritative: no silent fallback to other data.
    CHECK_THAT(error_of([&] { md::find_fashion_mnist(dir.path.string()); }),
               Contains(dir.path.string()) && Contains("missing t10k-labels-idx1-ubyte[.gz]"));
    // The training split alone is there, and is all that is asked for.
    CHECK(md::find_fashion_mnist(dir.path.string(), {md::Split::Train}) == dir.path.string());
  }

  write_file(dir / "t10k-labels-idx1-ubyte", idx_file({2}, {5, 6}));

  SECTION("loading both splits") {
    md::ImageSet train = md::load_fashion_mnist(dir.path.string(), md::Split::Train);
    CHECK(train.count == 4);
    CHECK(train.rows == 28);
    CHECK(train.cols == 28);
    CHECK(train.labels == Bytes{0, 1, 2, 9});
    md::ImageSet test = md::load_fashion_mnist(dir.path.string(), md::Split::Test);
    CHECK(test.count == 2);
    CHECK(test.pixels == iota_bytes(2 * 784, 100));
    CHECK(test.labels == Bytes{5, 6});
  }
  SECTION("images of another size are refused, not trained on as 28x28") {
    write_file(dir / "t10k-images-idx3-ubyte", idx_file({2, 14, 56}, iota_bytes(2 * 784)));
    CHECK_THAT(error_of([&] { md::load_fashion_mnist(dir.path.string(), md::Split::Test); }),
               Contains("t10k-images-idx3-ubyte: images are 14x56, Fashion-MNIST's are 28x28"));
  }
  SECTION("evaluation needs the test split only") {
    fs::remove(dir / "train-images-idx3-ubyte.gz");
    CHECK_THAT(error_of([&] { md::find_fashion_mnist(dir.path.string()); }),
               Contains("missing train-images-idx3-ubyte"));
    CHECK(md::find_fashion_mnist(dir.path.string(), {md::Split::Test}) == dir.path.string());
  }
  SECTION("search order: the command line, then $FASHION_MNIST_DIR") {
    CHECK(md::find_fashion_mnist(dir.path.string()) == dir.path.string());

    const char* old = std::getenv("FASHION_MNIST_DIR");
    const std::string saved = old ? old : "";
    ::setenv("FASHION_MNIST_DIR", dir.path.c_str(), 1);
    CHECK(md::find_fashion_mnist("") == dir.path.string());
    const std::string nowhere = dir / "nowhere";
    CHECK_THAT(error_of([&] { md::find_fashion_mnist(nowhere); }), Contains(nowhere) && Contains("does not exist"));

    ::setenv("FASHION_MNIST_DIR", nowhere.c_str(), 1);
    try {
      std::string found = md::find_fashion_mnist("");
      CHECK(found != nowhere);  // the real data in ./data or /usr/share was found
    } catch (const md::DataError& e) {
      std::string msg = e.what();
      CHECK_THAT(msg, Contains("$FASHION_MNIST_DIR=" + nowhere + ": does not exist") &&
                          Contains("./data/fashion-mnist") && Contains("/usr/share/datasets/fashion-mnist") &&
                          Contains("apt-get install dataset-fashion-mnist"));
    }
    if (old)
      ::setenv("FASHION_MNIST_DIR", saved.c_str(), 1);
    else
      ::unsetenv("FASHION_MNIST_DIR");
  }
}

TEST_CASE("data: fashion_mnist_classes", "[data]") {
  const auto& names = md::fashion_mnist_classes();
  REQUIRE(names.size() == 10);
  CHECK(names[0] == "T-shirt/top");
  CHECK(names[5] == "Sandal");
  CHECK(names[9] == "Ankle boot");
}

TEST_CASE("data: read_image_csv reads Kaggle-style CSV", "[data]") {
  TempDir dir;
  SECTION("with a header, CRLF and a blank trailing line") {
    write_text(dir / "h.csv", "label,pixel1,pixel2,pixel3,pixel4\r\n3,0,1,254,255\r\n9, 7 ,8,9,10\r\n\r\n");
    md::ImageSet s = md::read_image_csv(dir / "h.csv", 2, 2);
    CHECK(s.count == 2);
    CHECK(s.rows == 2);
    CHECK(s.cols == 2);
    CHECK(s.labels == Bytes{3, 9});
    CHECK(s.pixels == Bytes{0, 1, 254, 255, 7, 8, 9, 10});
  }
  SECTION("without a header, without a final newline") {
    write_text(dir / "n.csv", "0,1,2,3,4\n1,5,6,7,8");
    md::ImageSet s = md::read_image_csv(dir / "n.csv", 2, 2);
    CHECK(s.count == 2);
    CHECK(s.labels == Bytes{0, 1});
    CHECK(s.pixels == Bytes{1, 2, 3, 4, 5, 6, 7, 8});
  }
  SECTION("28x28 by default") {
    std::string text = "label";
    for (int i = 1; i <= 784; ++i) text += ",pixel" + std::to_string(i);
    text += "\n";
    for (int img = 0; img < 3; ++img) {
      text += std::to_string(img * 3);
      for (int i = 0; i < 784; ++i) text.append(",").append(std::to_string((i + img) % 256));
      text += "\n";
    }
    write_text(dir / "fm.csv", text);
    md::ImageSet s = md::read_image_csv(dir / "fm.csv");
    CHECK(s.count == 3);
    CHECK(s.rows == 28);
    CHECK(s.cols == 28);
    CHECK(s.labels == Bytes{0, 3, 6});
    REQUIRE(s.pixels.size() == 3 * 784);
    CHECK(s.pixels[784 + 255] == 0);
    CHECK(s.pixels[2 * 784 + 783] == (783 + 2) % 256);
  }
  SECTION("lines across read chunks, and a line longer than a chunk") {
    std::string text;
    for (int i = 0; i < 600'000; ++i) text += std::to_string(i % 10) + ",1,2,3," + std::to_string(i % 256) + "\n";
    write_text(dir / "many.csv", text);
    md::ImageSet s = md::read_image_csv(dir / "many.csv", 2, 2);
    REQUIRE(s.count == 600'000);
    CHECK(s.labels[599'999] == 9);
    CHECK(s.pixels[4 * 599'999 + 3] == 599'999 % 256);

    std::string wide = "7";
    for (int i = 0; i < 1'500'000; ++i) wide += i % 2 ? ",255" : ",0";
    write_text(dir / "wide.csv", wide + "\n" + wide + "\n");
    md::ImageSet w = md::read_image_csv(dir / "wide.csv", 1000, 1500);
    REQUIRE(w.count == 2);
    CHECK(w.labels == Bytes{7, 7});
    CHECK(w.pixels[2 * 1'500'000 - 1] == 255);
  }
  SECTION("header only") {
    write_text(dir / "ho.csv", "label,a,b,c,d\n");
    CHECK(md::read_image_csv(dir / "ho.csv", 2, 2).count == 0);
  }
}

TEST_CASE("data: read_image_csv errors name the file, line, column and cell", "[data]") {
  TempDir dir;
  const std::string head = "label,p1,p2,p3,p4\r\n";
  auto err = [&](const std::string& name, const std::string& text) {
    write_text(dir / name, text);
    return error_of([&] { md::read_image_csv(dir / name, 2, 2); });
  };

  CHECK_THAT(err("nonnum.csv", head + "1,2,3,4,5\r\n1,2,3,abc,5\r\n"),
             Contains(dir / "nonnum.csv") && Contains("line 3, column 4 (pixel3): 'abc' is not an integer"));
  CHECK_THAT(err("float.csv", "1,2,3,4.5,5\n"), Contains("line 1, column 4 (pixel3): '4.5' is not an integer"));
  // A NUL or escape byte in a cell is shown escaped, never raw in the message.
  const std::string nul = err("nul.csv", std::string("1,2,3,4\0x,5\n", 12));
  CHECK_THAT(nul, Contains("'4\\x00x' is not an integer"));
  CHECK(nul.find('\0') == std::string::npos);
  CHECK_THAT(err("v256.csv", "1,2,3,4,5\n1,2,256,4,5\n"),
             Contains(dir / "v256.csv") && Contains("line 2, column 3 (pixel2): value '256' is out of range 0..255"));
  CHECK_THAT(err("neg.csv", head + "1,-1,3,4,5\n"),
             Contains(dir / "neg.csv") && Contains("line 2, column 2 (pixel1): value '-1' is out of range 0..255"));
  CHECK_THAT(err("huge.csv", "1,2,3,4,99999999999999999999\n"),
             Contains("line 1, column 5 (pixel4): value '99999999999999999999' is out of range"));
  CHECK_THAT(err("label10.csv", head + "0,1,2,3,4\n10,1,2,3,4\n"),
             Contains(dir / "label10.csv") && Contains("line 3, column 1 (label): label '10' is out of range 0..9"));
  CHECK_THAT(
      err("few.csv", head + "1,2,3,4,5\n1,2,3\n"),
      Contains(dir / "few.csv") &&
          Contains("line 3, column 4 (pixel3): missing: the line has 3 columns, expected 5 (label + 2x2 pixels)"));
  CHECK_THAT(
      err("many.csv", "1,2,3,4,5,6,7\n"),
      Contains(dir / "many.csv") && Contains("line 1, column 6: extra cell '6': the line has 7 columns, expected 5"));
  CHECK_THAT(err("trailingcomma.csv", "1,2,3,4,5,\n"),
             Contains("line 1, column 6: extra cell '': the line has 6 columns, expected 5"));
  CHECK_THAT(err("emptycell.csv", "1,2,,4,5\n"), Contains("line 1, column 3 (pixel2): empty cell"));
  CHECK_THAT(err("header.csv", "label,p1,p2\n1,2,3,4,5\n"),
             Contains("header.csv") && Contains("line 1 (header): has 3 columns, expected 5"));
  CHECK_THAT(err("blank.csv", "1,2,3,4,5\n\n1,2,3,4,5\n"), Contains("blank.csv") && Contains("line 2 is blank"));
  CHECK_THAT(err("empty.csv", ""), Contains("empty.csv") && Contains("file is empty"));
  CHECK_THAT(error_of([&] { md::read_image_csv(dir / "missing.csv"); }),
             Contains("missing.csv") && Contains("cannot open"));
}

TEST_CASE("data: the real Fashion-MNIST, when installed", "[data][real]") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir)) {
    WARN("skipped: " << dir << " not found (apt-get install dataset-fashion-mnist)");
    return;
  }
  CHECK(md::find_fashion_mnist(dir) == dir);

  md::ImageSet train = md::load_fashion_mnist(dir, md::Split::Train);
  REQUIRE(train.count == 60000);
  REQUIRE(train.rows == 28);
  REQUIRE(train.cols == 28);
  REQUIRE(train.pixels.size() == size_t{60000} * 784);
  REQUIRE(train.labels.size() == 60000);
  std::array<int, 10> per_class{};
  for (uint8_t l : train.labels) per_class.at(l)++;
  for (int c = 0; c < 10; ++c) CHECK(per_class[c] == 6000);
  CHECK(train.labels[0] == 9);  // the first training image is an ankle boot
  CHECK(std::accumulate(train.pixels.begin(), train.pixels.begin() + 784, 0) == 76247);

  md::ImageSet test = md::load_fashion_mnist(dir, md::Split::Test);
  REQUIRE(test.count == 10000);
  REQUIRE(test.pixels.size() == size_t{10000} * 784);
  per_class = {};
  for (uint8_t l : test.labels) per_class.at(l)++;
  for (int c = 0; c < 10; ++c) CHECK(per_class[c] == 1000);
}

TEST_CASE("data: a reader's DataError is a minigrad::Error", "[data]") {
  STATIC_REQUIRE(std::is_base_of_v<minigrad::Error, md::DataError>);
  TempDir dir;
  const std::string missing = (dir.path / "missing-idx3").string();
  try {
    md::read_idx(missing);
    FAIL("read_idx of a missing file threw nothing");
  } catch (const minigrad::Error& e) {
    CHECK_THAT(e.what(), Contains(missing));
  }
}
