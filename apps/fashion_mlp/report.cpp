#include "report.h"

#include <cmath>
#include <type_traits>

#include <fmt/format.h>

#include <minigrad/io.h>

namespace fashion {

std::string base64(std::string_view bytes) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    uint32_t group = 0;
    for (std::size_t k = 0; k < 3; ++k) group = group << 8 | (k < n ? static_cast<uint8_t>(bytes[i + k]) : 0u);
    for (std::size_t k = 0; k < 4; ++k) out += k <= n ? kDigits[group >> (18 - 6 * k) & 63] : '=';
  }
  return out;
}

namespace {

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string config_value(const auto& field) {
  using T = std::remove_cvref_t<decltype(field)>;
  if constexpr (std::is_same_v<T, std::vector<int64_t>>)
    return fmt::format("{}", fmt::join(field, ", "));
  else if constexpr (std::is_same_v<T, std::vector<std::string>>)
    return field.empty() ? "(none)" : fmt::format("{}", fmt::join(field, ", "));
  else if constexpr (std::is_same_v<T, bool>)
    return field ? "true" : "false";
  else if constexpr (std::is_same_v<T, std::string>)
    return field.empty() ? "(default)" : field;
  else
    return fmt::format("{}", field);
}

std::string figure_heading(const std::string& file) {
  if (file == "curves.png") return "Learning curves";
  if (file == "confusion.png") return "Confusion matrices (test set)";
  if (file == "samples.png") return "Test predictions";
  if (file == "mistakes.png") return "Most confident mistakes";
  if (file == "weights.png") return "First-layer weights";
  return escape(file);
}

std::string percent(double v) { return std::isfinite(v) ? fmt::format("{:.2f}%", 100 * v) : "-"; }
std::string number(double v) { return std::isfinite(v) ? fmt::format("{:.4f}", v) : "-"; }

constexpr const char* kStyle = R"(
body { font-family: sans-serif; color: #222; max-width: 1100px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f4f4f4; } td.name, th.name { text-align: left; }
tr.best td { font-weight: bold; background: #fff8dc; }
.config { columns: 2; } .config table { width: 100%; }
figure { margin: 16px 0; } img { max-width: 100%; border: 1px solid #eee; }
.summary { font-size: 1.05em; }
)";

}  // namespace

std::string report_html(const TrainConfig& config, const TrainResult& result, const std::vector<Figure>& figures) {
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>fashion_mlp run {}</title>\n<style>{}</style>\n</head>\n<body>\n",
      escape(result.run_dir), kStyle);
  html += fmt::format("<h1>fashion_mlp run <code>{}</code></h1>\n<p class=\"summary\">", escape(result.run_dir));
  if (result.test)
    html +=
        fmt::format("Test accuracy <b>{}</b> on {} images, test loss {:.4f}. ",
                    escape(result.test->confusion.accuracy_text()), result.test->confusion.total(), result.test->loss);
  if (result.best_epoch >= 1 && result.best_epoch <= static_cast<int64_t>(result.history.size())) {
    const EpochRecord& best = result.history[result.best_epoch - 1];
    html += fmt::format("Best epoch {} of {} (validation accuracy {}). ", best.epoch, result.history.size(),
                        percent(best.val_accuracy));
  }
  html += fmt::format("Trained in {:.1f} s.</p>\n", result.seconds);

  for (const Figure& f : figures)
    html += fmt::format("<h2>{}</h2>\n<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\"></figure>\n",
                        figure_heading(f.file), escape(f.file), base64(f.png));

  if (result.test) {
    const ConfusionMatrix& cm = result.test->confusion;
    const auto names = class_names();
    html +=
        "<h2>Per-class test metrics</h2>\n<table>\n<tr><th class=\"name\">class</th><th>precision</th>"
        "<th>recall</th><th>F1</th><th>support</th></tr>\n";
    for (int c = 0; c < cm.classes(); ++c) {
      int64_t support = 0;
      for (int p = 0; p < cm.classes(); ++p) support += cm.at(c, p);
      html +=
          fmt::format("<tr><td class=\"name\">{}</td><td>{:.4f}</td><td>{:.4f}</td><td>{:.4f}</td><td>{}</td></tr>\n",
                      escape(names[c]), cm.precision(c), cm.recall(c), cm.f1(c), support);
    }
    html += "</table>\n";
  }

  html +=
      "<h2>Epochs</h2>\n<table>\n<tr><th>epoch</th><th>train loss</th><th>train accuracy</th><th>validation loss</th>"
      "<th>validation accuracy</th><th>learning rate</th><th>seconds</th></tr>\n";
  for (const EpochRecord& r : result.history)
    html += fmt::format(
        "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3g}</td><td>{:.1f}</td></tr>\n",
        r.epoch == result.best_epoch ? " class=\"best\"" : "", r.epoch, number(r.train_loss), percent(r.train_accuracy),
        number(r.val_loss), percent(r.val_accuracy), r.lr, r.seconds);
  html += "</table>\n";

  html += "<h2>Configuration</h2>\n<div class=\"config\"><table>\n";
  for_each_field(config, [&](std::string_view name, const auto& field, std::string_view help) {
    html += fmt::format("<tr><td class=\"name\" title=\"{}\">{}</td><td class=\"name\">{}</td></tr>\n", escape(help),
                        escape(name), escape(config_value(field)));
  });
  html += "</table></div>\n";
  // The page's only script: a figure that did not decode shows up as a console error (the
  // browser test fails on any console message).
  html +=
      "<script>\naddEventListener('load', () => {\n  for (const img of document.images)\n"
      "    if (!img.naturalWidth) console.error('figure did not load: ' + "
      "img.alt);\n});\n</script>\n</body>\n</html>\n";
  return html;
}

bool write_report(const std::string& run_dir, const TrainConfig& config, const TrainResult& result,
                  const std::vector<Figure>& figures) {
  const std::string path = run_dir + "/report.html";
  try {
    minigrad::write_file_atomic(path, report_html(config, result, figures));
    return true;
  } catch (const std::exception& e) {
    fmt::print(stderr, "warning: report {} not written: {}\n", path, e.what());
    return false;
  }
}

}  // namespace fashion
