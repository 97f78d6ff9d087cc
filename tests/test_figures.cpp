// The figures (apps/plot and apps/fashion_mlp/figures.cpp) and the HTML report: sizes, content,
// colours at known places, and a run that writes them all.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <stb/stb_image.h>

#include <minigrad/minigrad.h>
#include <plot/chart.h>
#include <plot/text.h>

#include "figures.h"
#include "report.h"
#include "train.h"

using Catch::Matchers::Contains;
namespace fs = std::filesystem;
namespace mg = minigrad;

namespace {

int64_t count_pixels(const plot::Canvas& c, plot::Color color) {
  int64_t n = 0;
  for (int y = 0; y < c.height(); ++y)
    for (int x = 0; x < c.width(); ++x) n += c.pixel(x, y) == color;
  return n;
}

int64_t non_white(const plot::Canvas& c) { return c.width() * int64_t{c.height()} - count_pixels(c, plot::kWhite); }

// A history that looks like training: loss falling, accuracy rising.
std::vector<fashion::EpochRecord> fake_history(int epochs, double offset = 0) {
  std::vector<fashion::EpochRecord> h;
  for (int e = 1; e <= epochs; ++e)
    h.push_back({e, 1.0 / e + offset, 0.7 + 0.02 * e, 1.1 / e + offset, 0.68 + 0.02 * e, 1e-3, 1.0});
  return h;
}

// `n` images, each black but for a white pixel at (row i % 28, column 0), labelled i % 10; the
// model predicts the label for even i and label + 1 for odd i, with probability 0.9.
std::pair<mg::data::Dataset, fashion::Evaluation> fake_predictions(int n) {
  std::vector<float> pixels(n * 784, 0.0f), probabilities(n * 10, 0.1f / 9);
  std::vector<int64_t> labels(n);
  fashion::Evaluation e;
  for (int i = 0; i < n; ++i) {
    pixels[i * 784 + (i % 28) * 28] = 1.0f;
    labels[i] = i % 10;
    const int predicted = (i % 10 + i % 2) % 10;
    probabilities[i * 10 + predicted] = 0.9f;
    e.confusion.add(labels[i], predicted);
  }
  e.probabilities = mg::tensor(probabilities, {n, 10});
  return {mg::data::Dataset{mg::tensor(pixels, {n, 784}), mg::tensor(labels, {n}, {.dtype = mg::kInt64})},
          std::move(e)};
}

}  // namespace

TEST_CASE("plot: the font inks every printable character and the figures' text uses only those") {
  for (char c = 33; c <= 126; ++c) {
    INFO("character '" << c << "'");
    plot::Canvas canvas(40, 30);
    plot::draw_text(canvas, 5, 5, std::string(1, c), plot::kBlack);
    CHECK(non_white(canvas) > 0);
    CHECK(plot::text_width(std::string(1, c)) > 0);
    plot::Canvas bold(40, 30);
    plot::draw_text(bold, 5, 5, std::string(1, c), plot::kBlack, plot::Font::Bold);
    CHECK(non_white(bold) > non_white(canvas) / 2);
  }
  CHECK(plot::text_width(" ") > 0);
  // Class names are drawn whole: every character has a glyph, and the longest fits its column.
  for (std::string_view name : fashion::class_names()) {
    for (char c : name) CHECK(plot::font_has(c));
    CHECK(plot::fit_text(name, 78) == name);
  }
  CHECK_FALSE(plot::font_has('\xc3'));
  CHECK(plot::fit_text("a long run directory name", 60).ends_with("..."));
  CHECK(plot::text_width(plot::fit_text("a long run directory name", 60)) <= 60);
}

TEST_CASE("plot: round-number ticks") {
  const plot::Ticks t = plot::nice_ticks(0.0, 1.0, 5);
  REQUIRE(t.values.size() == 6);
  CHECK(t.values[1] == Approx(0.2));
  CHECK(t.decimals == 1);
  CHECK(plot::nice_ticks(0, 30, 6, true).values == std::vector<double>{0, 5, 10, 15, 20, 25, 30});
  CHECK(plot::nice_ticks(1, 3, 10, true).values == std::vector<double>{1, 2, 3});  // no half epochs
  CHECK(plot::nice_ticks(62.3, 91.7, 6).values.front() == Approx(65));
  CHECK(plot::nice_ticks(1, 1, 5).values.empty());
  CHECK(plot::tick_label(0.25, 2) == "0.25");
}

TEST_CASE("plot: lines, discs and PNG encoding") {
  plot::Canvas c(50, 20);
  c.line({5, 10}, {45, 10}, plot::kRed, 3.0);
  CHECK(c.pixel(25, 10) == plot::kRed);
  CHECK(c.pixel(25, 2) == plot::kWhite);
  c.disc({10, 10}, 0.0, plot::kBlack);  // a point-sized disc still paints a little
  const std::string png = c.encode_png();
  REQUIRE(png.size() > 8);
  CHECK(png.substr(1, 3) == "PNG");
  int w = 0, h = 0, channels = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> pixels(
      stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()), static_cast<int>(png.size()), &w, &h,
                            &channels, 3),
      stbi_image_free);
  REQUIRE(pixels);
  CHECK((w == 50 && h == 20));
  CHECK(pixels.get()[(10 * 50 + 25) * 3] == plot::kRed.r);
  CHECK_THROWS_WITH(plot::Canvas(0, 10), Contains("0x10"));
  CHECK_THROWS_WITH(c.pixel(50, 0), Contains("(50, 0)"));
}

TEST_CASE("figures: a perfect confusion matrix is bright on the diagonal and dark elsewhere") {
  fashion::ConfusionMatrix cm(10);
  for (int c = 0; c < 10; ++c)
    for (int i = 0; i < 100; ++i) cm.add(c, c);
  const plot::Canvas canvas = fashion::confusion_figure(cm);
  CHECK(canvas.width() > 1000);
  for (int panel = 0; panel < 2; ++panel)
    for (int t = 0; t < 10; ++t)
      for (int p = 0; p < 10; ++p) {
        const plot::Rect cell = fashion::confusion_cell(panel, t, p);
        INFO("panel " << panel << " true " << t << " predicted " << p);
        // A corner of the cell, away from its number.
        CHECK(canvas.pixel(cell.x + 2, cell.y + 2) == plot::viridis(t == p ? 1.0 : 0.0));
      }
  // Counts in between get colours in between, and distinct ones.
  fashion::ConfusionMatrix mixed(10);
  for (int i = 0; i < 900; ++i) mixed.add(0, 0);
  for (int i = 0; i < 10; ++i) mixed.add(0, 1);
  mixed.add(0, 2);
  const plot::Canvas m = fashion::confusion_figure(mixed);
  const plot::Rect ten = fashion::confusion_cell(0, 0, 1), one = fashion::confusion_cell(0, 0, 2);
  const plot::Color c10 = m.pixel(ten.x + 2, ten.y + 2), c1 = m.pixel(one.x + 2, one.y + 2);
  CHECK(c10 != c1);
  CHECK(c1 != plot::viridis(0.0));
  CHECK(c10 != plot::viridis(1.0));
  CHECK_THROWS_WITH(fashion::confusion_figure(fashion::ConfusionMatrix(3)), Contains("10 classes"));
}

TEST_CASE("figures: sample predictions show the image and frame the wrong ones in red") {
  const auto [images, evaluation] = fake_predictions(16);
  const plot::Canvas canvas = fashion::samples_figure(images, evaluation, 16);
  for (int i = 0; i < 16; ++i) {
    const plot::Rect tile = fashion::prediction_tile(i);
    INFO("image " << i);
    CHECK(canvas.pixel(tile.x - 2, tile.y + tile.height / 2) == (i % 2 ? plot::kRed : plot::kWhite));
    // The white pixel at row i % 28, column 0 (drawn 3x3), black elsewhere.
    CHECK(canvas.pixel(tile.x + 1, tile.y + (i % 28) * 3 + 1) == plot::kWhite);
    CHECK(canvas.pixel(tile.x + 10, tile.y + (i % 28) * 3 + 1) == plot::kBlack);
  }
  // Mistakes: only the 8 wrong ones, all framed.
  const plot::Canvas mistakes = fashion::mistakes_figure(images, evaluation, 24);
  for (int i = 0; i < 8; ++i) {
    const plot::Rect tile = fashion::prediction_tile(i);
    CHECK(mistakes.pixel(tile.x - 2, tile.y + 5) == plot::kRed);
  }
  const plot::Rect ninth = fashion::prediction_tile(8);
  CHECK(mistakes.pixel(ninth.x + 5, ninth.y + 5) == plot::kWhite);  // nothing drawn there
}

TEST_CASE("figures: first-layer weights as red (positive) and blue (negative) tiles") {
  std::vector<float> w(3 * 784, 0.0f);
  std::fill(w.begin(), w.begin() + 784, 0.5f);
  std::fill(w.begin() + 784, w.begin() + 2 * 784, -2.0f);
  const plot::Canvas canvas = fashion::weights_figure(mg::tensor(w, {3, 784}));
  CHECK(count_pixels(canvas, {178, 24, 43}) == 56 * 56);   // the strongest red fills unit 0
  CHECK(count_pixels(canvas, {33, 102, 172}) == 56 * 56);  // the strongest blue fills unit 1
  CHECK_THROWS_WITH(fashion::weights_figure(mg::zeros({3, 10})), Contains("(3, 10)"));
}

TEST_CASE("figures: curves, comparison and sweep draw their series") {
  const plot::Canvas curves = fashion::curves_figure(fake_history(5), 5);
  CHECK((curves.width() == 1040 && curves.height() == 400));
  CHECK(count_pixels(curves, plot::palette(0)) > 100);  // train
  CHECK(count_pixels(curves, plot::palette(1)) > 100);  // validation
  CHECK_THROWS_WITH(fashion::curves_figure({}, 0), Contains("no epochs"));
  // One epoch, and no validation split (NaN validation numbers): still drawn.
  auto single = fake_history(1);
  single[0].val_loss = single[0].val_accuracy = NAN;
  const plot::Canvas one = fashion::curves_figure(single, 1);
  CHECK(count_pixels(one, plot::palette(0)) > 10);
  CHECK(count_pixels(one, plot::palette(1)) > 10);  // only its legend entry

  const plot::Canvas compare = fashion::compare_figure({{"adam", fake_history(4)}, {"sgd", fake_history(6, 0.2)}});
  CHECK(count_pixels(compare, plot::palette(0)) > 100);
  CHECK(count_pixels(compare, plot::palette(1)) > 100);
  CHECK(count_pixels(compare, plot::palette(2)) == 0);

  std::vector<fashion::SweepPoint> points;
  for (const char* lr : {"1e-3", "3e-4"})
    for (const char* hidden : {"64", "128x64"})
      points.push_back(
          {{{"lr", lr}, {"hidden", hidden}}, std::string(lr) == "1e-3" && std::string(hidden) == "64" ? 0.9 : 0.8});
  const plot::Canvas sweep = fashion::sweep_figure(points);
  CHECK(sweep.width() == 2 * 440);
  CHECK(count_pixels(sweep, plot::kRed) > 20);  // the best point, in both panels
  CHECK(count_pixels(sweep, plot::palette(0)) > 40);
}

TEST_CASE("figures: metrics.csv is read back; bad files are named") {
  const fs::path dir = fs::temp_directory_path() / fmt::format("fashion_csv_{}", ::getpid());
  fs::create_directories(dir);
  const std::string path = (dir / "metrics.csv").string();
  std::ofstream(path)
      << "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds\n1,0.5,0.8,nan,nan,0.001,2.5\n";
  const auto history = fashion::read_metrics_csv(path);
  REQUIRE(history.size() == 1);
  CHECK(history[0].train_accuracy == 0.8);
  CHECK(std::isnan(history[0].val_loss));
  // What train writes now: with the skipped_steps column.
  std::ofstream(path) << "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,skipped_steps\n"
                         "1,0.5,0.8,0.4,0.85,0.001,2.5,3\n";
  REQUIRE(fashion::read_metrics_csv(path).size() == 1);
  CHECK(fashion::read_metrics_csv(path)[0].skipped_steps == 3);
  std::ofstream(path)
      << "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds\n1,0.5,x,0.4,0.8,0.001,2.5\n";
  CHECK_THROWS_WITH(fashion::read_metrics_csv(path), Contains("metrics.csv:2") && Contains("'x'"));
  std::ofstream(path) << "a,b\n";
  CHECK_THROWS_WITH(fashion::read_metrics_csv(path), Contains("metrics.csv:1"));
  CHECK_THROWS_WITH(fashion::load_runs({(dir / "nope").string()}), Contains("nope/metrics.csv"));
  fs::remove_all(dir);
}

TEST_CASE("report: base64 and escaping") {
  CHECK(fashion::base64("Man") == "TWFu");
  CHECK(fashion::base64("Ma") == "TWE=");
  CHECK(fashion::base64("M") == "TQ==");
  CHECK(fashion::base64("") == "");
  fashion::TrainConfig config;
  config.data = "<i>x";
  fashion::TrainResult result;
  result.history = fake_history(2);
  result.best_epoch = 2;
  const std::string html = fashion::report_html(config, result, {{"curves.png", "\x89PNG"}});
  CHECK_THAT(html, Contains("&lt;i&gt;x") && Contains("data:image/png;base64,iVBORw==") && Contains("class=\"best\""));
  CHECK_THAT(html, !Contains("<i>x") && !Contains("<script src"));
}

TEST_CASE("figures: a failure to write a figure or the report is reported, not thrown") {
  const fs::path missing = fs::temp_directory_path() / fmt::format("fashion_no_such_dir_{}", ::getpid()) / "deeper";
  const auto history = fake_history(3);
  std::vector<fashion::Figure> written;
  CHECK_NOTHROW(written = fashion::write_figures(missing.string(), {.history = &history, .best_epoch = 3}));
  CHECK(written.empty());
  CHECK_FALSE(fashion::write_report(missing.string(), {}, {}, {}));
  // A figure whose drawing throws is skipped too.
  const fashion::Evaluation wrong_size;  // confusion matrix fine, probabilities undefined
  const auto [images, evaluation] = fake_predictions(4);
  const fs::path dir = fs::temp_directory_path() / fmt::format("fashion_partial_{}", ::getpid());
  fs::create_directories(dir);
  CHECK_NOTHROW(written = fashion::write_figures(dir.string(), {.test = &wrong_size, .test_images = &images}));
  REQUIRE(written.size() == 1);
  CHECK(written[0].file == "confusion.png");
  CHECK_FALSE(fs::exists(dir / "samples.png"));
  fs::remove_all(dir);
}

TEST_CASE("figures: a small run leaves every figure and report.html in its run directory", "[e2e]") {
  fashion::TrainConfig c;
  c.train_limit = 2000;
  c.test_limit = 300;
  c.hidden = {32};
  c.epochs = 2;
  c.threads = 1;
  c.out = (fs::temp_directory_path() / fmt::format("fashion_figures_{}", ::getpid())).string();
  const fashion::Splits splits = fashion::load_splits(c);
  const fashion::TrainResult result = fashion::train(c, splits, {.quiet = true});
  struct Expected {
    const char* file;
    int width, height;
  };
  for (const Expected& e :
       {Expected{"curves.png", 1040, 400}, Expected{"confusion.png", 1228, 0}, Expected{"samples.png", 968, 0},
        Expected{"mistakes.png", 968, 0}, Expected{"weights.png", 0, 0}}) {
    INFO(e.file);
    const std::string path = c.out + "/" + e.file;
    int w = 0, h = 0, channels = 0;
    std::unique_ptr<unsigned char, void (*)(void*)> pixels(stbi_load(path.c_str(), &w, &h, &channels, 3),
                                                           stbi_image_free);
    REQUIRE(pixels);
    if (e.width) CHECK(w == e.width);
    if (e.height) CHECK(h == e.height);
    CHECK((w >= 500 && h >= 150));
    int64_t inked = 0;
    for (int64_t i = 0; i < int64_t{w} * h; ++i) inked += pixels.get()[i * 3] < 200;
    CHECK(inked > int64_t{w} * h / 200);  // not blank
  }
  std::ifstream in(c.out + "/report.html");
  std::stringstream html;
  html << in.rdbuf();
  const std::string text = html.str();
  std::size_t images = 0;
  for (std::size_t at = text.find("data:image/png;base64,"); at != std::string::npos;
       at = text.find("data:image/png;base64,", at + 1))
    ++images;
  CHECK(images == 5);
  CHECK_THAT(text, Contains("Per-class test metrics") && Contains("Ankle boot") &&
                       Contains(result.test->confusion.accuracy_text()));
  CHECK_THAT(text, !Contains("http") && !Contains("<script src") && !Contains("<link"));  // self-contained
  fs::remove_all(c.out);
}
