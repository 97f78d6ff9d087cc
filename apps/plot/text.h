#pragma once
// Text in an embedded anti-aliased bitmap font (DejaVu Sans, printable ASCII, rasterized by
// make_font.py into font_data.inc): no font files or libraries needed at run time.
#include <string>
#include <string_view>

#include "canvas.h"

namespace plot {

enum class Font { Regular, Bold };  // 12 px labels; 15 px bold titles
enum class Align { Left, Center, Right };
enum class VAlign { Top, Middle, Bottom };

// Whether the font has a glyph for c; other bytes are drawn as '?'.
bool font_has(char c);
int text_width(std::string_view text, Font font = Font::Regular);
// Ascent plus descent: the height of a line of text.
int line_height(Font font = Font::Regular);
// `text` shortened with "..." to fit in max_width pixels.
std::string fit_text(std::string_view text, int max_width, Font font = Font::Regular);

// Draws text anchored at (x, y) as the alignments say.
void draw_text(Canvas& canvas, int x, int y, std::string_view text, Color color, Font font = Font::Regular,
               Align align = Align::Left, VAlign valign = VAlign::Top);
// The same, turned 90 degrees counter-clockwise (reads bottom to top), centred on (x, y).
void draw_text_vertical(Canvas& canvas, int x, int y, std::string_view text, Color color, Font font = Font::Regular);

}  // namespace plot
