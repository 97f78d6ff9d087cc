#include "text.h"

#include <cstdint>

namespace plot {

namespace {

struct Glyph {
  int x, y, width, height, advance, offset;  // bitmap placement relative to the pen and the line's top
};
struct FontData {
  int size, ascent, descent;
  const Glyph* glyphs;
  const unsigned char* alpha;
};
#include "font_data.inc"

constexpr char kFirst = 32, kLast = 126;

const FontData& data(Font font) { return font == Font::Bold ? kBold : kRegular; }
const Glyph& glyph(const FontData& f, char c) { return f.glyphs[(font_has(c) ? c : '?') - kFirst]; }

// Calls paint(u, v, alpha) for every inked pixel, u along the text from its start, v down from the line's top.
template <typename Paint>
void for_each_pixel(std::string_view text, Font font, Paint&& paint) {
  const FontData& f = data(font);
  int pen = 0;
  for (char c : text) {
    const Glyph& g = glyph(f, c);
    for (int j = 0; j < g.height; ++j)
      for (int i = 0; i < g.width; ++i)
        if (const unsigned char a = f.alpha[g.offset + j * g.width + i]) paint(pen + g.x + i, g.y + j, a / 255.0);
    pen += g.advance;
  }
}

}  // namespace

bool font_has(char c) { return c >= kFirst && c <= kLast; }

int text_width(std::string_view text, Font font) {
  int width = 0;
  for (char c : text) width += glyph(data(font), c).advance;
  return width;
}

int line_height(Font font) { return data(font).ascent + data(font).descent; }

std::string fit_text(std::string_view text, int max_width, Font font) {
  if (text_width(text, font) <= max_width) return std::string(text);
  std::string out(text);
  while (!out.empty() && text_width(out + "...", font) > max_width) out.pop_back();
  return out + "...";
}

void draw_text(Canvas& canvas, int x, int y, std::string_view text, Color color, Font font, Align align,
               VAlign valign) {
  const int w = text_width(text, font), h = line_height(font);
  const int left = align == Align::Left ? x : align == Align::Center ? x - w / 2 : x - w;
  const int top = valign == VAlign::Top ? y : valign == VAlign::Middle ? y - h / 2 : y - h;
  for_each_pixel(text, font, [&](int u, int v, double a) { canvas.blend(left + u, top + v, color, a); });
}

void draw_text_vertical(Canvas& canvas, int x, int y, std::string_view text, Color color, Font font) {
  const int w = text_width(text, font), h = line_height(font);
  const int left = x - h / 2, bottom = y + w / 2;
  for_each_pixel(text, font, [&](int u, int v, double a) { canvas.blend(left + v, bottom - u, color, a); });
}

}  // namespace plot
