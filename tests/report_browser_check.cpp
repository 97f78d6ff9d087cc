// Renders an HTML page in headless Chromium and checks what a reader would see:
//   - a screenshot that is not blank (and, for a report, shows colour: the figures decoded);
//   - no console messages: the report's only script logs an error for an image that did not
//     load, so any message means a script error or a broken figure.
// usage: report_browser_check PAGE.html [--chromium PATH] [--expect-console-error]
// With --expect-console-error it passes only when the page does log (proves the check can fail).
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

namespace fs = std::filesystem;

namespace {

int fail(const std::string& why) {
  fmt::print(stderr, "report_browser_check: FAILED: {}\n", why);
  return 1;
}

std::string quote(const std::string& s) { return "'" + s + "'"; }  // our paths have no quotes

}  // namespace

int main(int argc, char** argv) {
  std::string page, chromium = "/usr/bin/chromium";
  bool expect_error = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--expect-console-error")
      expect_error = true;
    else if (arg == "--chromium" && i + 1 < argc)
      chromium = argv[++i];
    else
      page = arg;
  }
  if (page.empty()) return fail("usage: report_browser_check PAGE.html [--chromium PATH] [--expect-console-error]");
  if (!fs::exists(page)) return fail(fmt::format("{}: no such page", page));
  if (!fs::exists(chromium))
    return fail(fmt::format("{} not found: install it with `apt-get install chromium`", chromium));

  char dir_template[] = "/tmp/report_browser_XXXXXX";
  if (!mkdtemp(dir_template)) return fail("cannot create a temporary directory");
  const fs::path dir = dir_template;
  const fs::path shot = dir / "screenshot.png", log = dir / "chromium.log";
  constexpr int kWidth = 1200, kHeight = 2400;
  // A fresh profile; every host name unresolvable, so the page cannot use the network.
  const std::string command = fmt::format(
      "timeout 300 {} --headless --no-sandbox --disable-gpu --user-data-dir={} --enable-logging=stderr --v=0 "
      "--host-resolver-rules='MAP * ~NOTFOUND' --hide-scrollbars --window-size={},{} --screenshot={} {} > {} 2>&1",
      quote(chromium), quote((dir / "profile").string()), kWidth, kHeight, quote(shot.string()),
      quote("file://" + fs::absolute(page).string()), quote(log.string()));
  const int status = std::system(command.c_str());

  std::vector<std::string> console;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);)
    if (line.find(":CONSOLE") != std::string::npos) console.push_back(line);

  int w = 0, h = 0, channels = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> pixels(stbi_load(shot.string().c_str(), &w, &h, &channels, 3),
                                                         stbi_image_free);
  if (!pixels) {
    std::ifstream again(log);
    const std::string text{std::istreambuf_iterator<char>(again), {}};
    return fail(fmt::format("no screenshot (chromium exit status {}); its log:\n{}", status, text));
  }
  int64_t inked = 0, colourful = 0;
  for (int64_t i = 0; i < int64_t{w} * h; ++i) {
    const unsigned char* p = pixels.get() + 3 * i;
    const int lo = std::min({p[0], p[1], p[2]}), hi = std::max({p[0], p[1], p[2]});
    inked += lo < 200;
    colourful += hi - lo > 80;
  }
  fs::remove_all(dir);
  fmt::print("{}: {}x{} screenshot, {:.2f}% inked, {:.2f}% colourful, {} console message(s)\n", page, w, h,
             100.0 * inked / (w * h), 100.0 * colourful / (w * h), console.size());
  for (const std::string& line : console) fmt::print("  {}\n", line);
  if (w != kWidth || h != kHeight)
    return fail(fmt::format("screenshot is {}x{}, expected {}x{}", w, h, kWidth, kHeight));
  if (inked < int64_t{w} * h / 200) return fail("the page is blank");
  if (expect_error) return console.empty() ? fail("expected a console error, none was logged") : 0;
  if (!console.empty()) return fail("the page logged to the console");
  if (colourful < int64_t{w} * h / 200) return fail("no colour on the page: the figures did not render");
  return 0;
}
